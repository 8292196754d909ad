"""``scratchnet mnist``: train an MLP or a CNN on MNIST (or Fashion-MNIST) and report.

Parses arguments, calls :func:`scratchnet.lessons.mnist.train_mnist`, prints what it
returns and writes the run folder. No math here. Exit status 0, or 130 when training
was stopped with Ctrl-C (the run folder is still written).
"""

from __future__ import annotations

import argparse
import sys

from ..checkpoint import add_checkpoint_arguments
from ..lessons.mnist import DATASETS, DEFAULT_SPLIT_TEST, RECIPES
from ..models import MODELS


def _recipe_help() -> str:
    return "; ".join(f"{name}: {r.epochs} epochs, batch {r.batch_size}, lr {r.lr:g}"
                     for name, r in RECIPES.items())


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "mnist",
        help="train an MLP or a CNN on handwritten digits (or Fashion-MNIST)",
        description=(
            "Train a multilayer perceptron (784-256-128-10) or a small convolutional network "
            "on MNIST or Fashion-MNIST with the tuned recipe (Adam, cosine learning rate, "
            "random rotations/shifts of the training images). Prints validation accuracy "
            "after each epoch and the test accuracy per class; writes a run folder with the "
            "model, curves.png, confusion.png, weights.png, mistakes.png and report.html. "
            "Ctrl-C stops after the current batch and still saves everything (exit 130). "
            f"Recipe defaults: {_recipe_help()}."
        ),
        epilog=(
            "Data: without --data-dir the official 60,000/10,000 split is downloaded once "
            "into the cache. --data-dir DIR reads the IDX files (.gz or raw) from DIR; if DIR "
            "holds only the 10,000-image test files (t10k-*), the command trains on the first "
            f"{DEFAULT_SPLIT_TEST:,} of them and tests on the rest (split-test mode, said "
            "clearly in the output and the report). --split-test N chooses that split "
            "explicitly."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--model", choices=tuple(MODELS), default="mlp",
                   help="mlp: 784-256-128-10 ReLU; cnn: two conv-BN-ReLU-pool blocks + dense")
    p.add_argument("--dataset", choices=DATASETS, default="mnist",
                   help="mnist: handwritten digits; fashion: Zalando's clothing pictures")
    p.add_argument("--data-dir", default=None, metavar="DIR",
                   help="folder with the IDX files (default: download into the cache)")
    p.add_argument("--split-test", type=int, default=None, metavar="N",
                   help="train on the first N images of the test file, test on the rest "
                        f"(automatic, N={DEFAULT_SPLIT_TEST:,}, when DIR has no training files)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: the recipe's)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="images per step (default: the recipe's)")
    p.add_argument("--lr", type=float, default=None,
                   help="peak learning rate of the cosine schedule (default: the recipe's)")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="random rotation/zoom/shift of the training images each epoch "
                        "(default: on)")
    p.add_argument("--train-limit", type=int, default=None, metavar="N",
                   help="use only the first N training images (quick runs)")
    p.add_argument("--test-limit", type=int, default=None, metavar="N",
                   help="use only the first N test images")
    p.add_argument("--val-split", type=float, default=0.1, metavar="FRACTION",
                   help="last fraction of the training images held out for validation "
                        "(0: none)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the weights, shuffling, dropout and augmentation")
    p.add_argument("--no-download", action="store_true",
                   help="never download; fail if the files are not in the cache")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="run folder (default: runs/mnist-<timestamp>/)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress; print only the test accuracy and the run folder")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="worker threads for the batch (default: $SCRATCHNET_NUM_THREADS or 1; "
                        "see scratchnet.parallel)")
    p.add_argument("--processes", type=int, default=1, metavar="N",
                   help="share each batch between N processes, one core each (data "
                        "parallelism, see scratchnet.dataparallel; Linux on x86-64; the MLP: "
                        "the CNN's batch normalisation and dropout need the whole batch)")
    add_checkpoint_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..checkpoint import checkpoint_kwargs, resume_run_dir
    from ..dataparallel import check_supported
    from ..lessons.mnist import (
        MnistConfig,
        build_model,
        format_results,
        format_setup,
        load_data,
        save_mnist_run,
        train_mnist,
    )
    from ..parallel import set_num_threads
    from ..report import default_run_dir

    if args.threads is not None:
        set_num_threads(args.threads)  # a bad number is a ConfigError, reported by the CLI
    if args.processes != 1:
        check_supported([], args.processes)  # the number and the machine, before any work
    cfg = MnistConfig(
        model=args.model, dataset=args.dataset, data_dir=args.data_dir,
        split_test=args.split_test, epochs=args.epochs, batch_size=args.batch_size,
        lr=args.lr, augment=args.augment, train_limit=args.train_limit,
        test_limit=args.test_limit, val_split=args.val_split, seed=args.seed,
        download=not args.no_download,
    )
    say = (lambda line: None) if args.quiet else (lambda line: print(line, flush=True))
    run_dir = resume_run_dir(args, "mnist") or args.out or default_run_dir("mnist")
    fit_kwargs = checkpoint_kwargs(args, run_dir)
    if args.processes != 1:
        fit_kwargs["processes"] = args.processes
    data = load_data(cfg)
    if data.notice:
        # Said even with --quiet: the figures mean something else in this mode.
        print(f"NOTE: {data.notice}.", file=sys.stderr, flush=True)
    say(f"scratchnet mnist: {cfg.model.upper()} on {data.dataset_title}\n")
    say(format_setup(cfg, data, build_model(cfg, len(data.train_labels))))
    say("")
    if fit_kwargs.get("resume"):
        say(f"Resuming from the newest checkpoint in {fit_kwargs['checkpoint_dir']}\n")
    result = train_mnist(cfg, data, progress=say, fit_kwargs=fit_kwargs)
    say("")
    path = save_mnist_run(result, run_dir)
    if args.quiet:
        status = "INTERRUPTED, " if result.interrupted else ""
        print(f"{status}test accuracy {result.test_accuracy:.2%} on "
              f"{len(data.test_labels):,} {data.dataset_title} test images "
              f"({data.mode} data, {result.epochs_done} epochs)")
    else:
        print(format_results(result))
        print()
    print(f"Run folder: {path}")
    if not args.quiet:
        print("  report.html  curves.png  confusion.png  weights.png  mistakes.png  model.npz")
    return 130 if result.interrupted else 0
