"""Does `cgan augment --balance` help a classifier on an imbalanced set? Per-class accuracy on held-out digits.

    nice python benchmarks/cgan_augment.py [--cut 3=0.05,5=0.05,8=0.05] [--augment translation,cutout]
                                           [--balance-classes] [--out runs/bench-augment] [--run RUN]

On the MNIST 5k file: a label cgan trains (the default recipe) on the training split with the `--cut` classes kept at
5% of their images (`--class-fraction`), then `augment --balance` tops every class up to the largest with generated
digits. The same small CNN (the cgan judge's network, `evaluators.train_judge`: seeded, 6 epochs) is trained on
  cut              the cut training split alone,
  cut+oversampled  the cut split with each class's images repeated up to the largest class (the no-GAN remedy),
  cut+generated    the cut split plus the generated images,
  full             the whole training split (what the cut lost: the ceiling),
and read on the held-out fifth of the file, which neither the cgan nor any classifier saw. Accuracies are means over
`--seeds` classifier seeds. Prints the table, then one JSON line with the minority-class means and the share of the
cut's loss that augmenting wins back: (cut+generated - cut) / (full - cut).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
MNIST = REPO.parent / "shared" / "data" / "mnist" / "mnist_5k.csv.gz"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(MNIST), help="an MNIST CSV file")
    parser.add_argument("--cut", default="3=0.05,5=0.05,8=0.05", help="the cgan's --class-fraction")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-augment"))
    parser.add_argument("--run", type=Path, default=None, help="reuse a cut label run instead of training one")
    parser.add_argument("--epochs", type=int, default=None, help="cgan epochs (default: the recipe's)")
    parser.add_argument("--steps", type=int, default=None, help="cgan steps per epoch (default: the recipe's)")
    parser.add_argument("--seeds", type=int, default=8, help="classifier seeds to average over")
    parser.add_argument("--augment", default="", help="the cgan's --augment: DiffAugment of what its discriminator "
                        "judges (e.g. translation,cutout)")
    parser.add_argument("--balance-classes", action="store_true", help="train the cgan with every class drawn "
                        "equally often (its --balance-classes)")
    args = parser.parse_args()

    import numpy as np
    from ganapps.apps.cgan import data as D
    from ganapps.apps.cgan import evaluators as E
    from ganapps.apps.cgan import lab
    from ganapps.apps.cgan.recipe import parse_class_fraction

    from ganapps.core import runs

    start = time.perf_counter()
    run = args.run
    if run is None:
        run = args.out / "cgan"
        overrides = {k: v for k, v in (("epochs", args.epochs), ("steps", args.steps)) if v is not None}
        options = lab.APP.options(out=run, verbose=0, augment=args.augment, **overrides)
        config = lab.Config(data=args.data, class_fraction=tuple(args.cut.split(",")),
                            balance_classes=args.balance_classes)
        log(f"training the cgan on {args.data} cut to {args.cut}: {options.epochs} x {options.steps} steps, "
            f"batch {options.batch_size}")
        lab.train(config, options, progress=False)
    gan_seconds = time.perf_counter() - start
    augmented = lab.augment(run, args.out / "augmented", balance=True, overwrite=True)

    record = runs.read_run(run, lab.APP)
    config = record.config
    cut = lab.training_set(run)
    training, held_out = D.split(lab.load_examples(config))
    generated = D.load(str(augmented.folder), config.image_size, config.channels)  # as `--data` would read it
    names = cut.class_names
    minority = [names.index(name) if name in names else int(name)
                for name in parse_class_fraction(config.class_fraction)]
    counts = np.bincount(cut.labels, minlength=len(names))
    rng = np.random.default_rng(0)
    repeated = np.concatenate([np.flatnonzero(cut.labels == k) for k in range(len(names))]
                              + [rng.choice(np.flatnonzero(cut.labels == k), counts.max() - counts[k])
                                 for k in range(len(names))])
    sets = {
        "cut": cut,
        "cut+oversampled": cut.subset(np.sort(repeated)),
        "cut+generated": D.Examples(np.concatenate([cut.images, generated.images]), "cut+generated",
                                    np.concatenate([cut.labels, generated.labels]), class_names=names),
        "full": training,
    }
    accuracy = {}
    for name, examples in sets.items():
        per_seed = []
        for seed in range(args.seeds):
            judge = E.Judge(E.train_judge(examples, seed=seed), (), np.zeros((0, 2)))
            read = judge.read(lab.to_float(held_out.images)).labels
            per_seed.append(E.label_accuracy(read, held_out.labels, len(names))[1])
        accuracy[name] = np.mean(per_seed, axis=0)
        log(f"{name}: {len(examples)} training images, held-out accuracy {np.mean(accuracy[name]):.3f}")
    seconds = time.perf_counter() - start

    columns = list(sets)
    print(f"held-out real digits per class ({len(held_out)} in all), classifier accuracy, mean of {args.seeds} seeds")
    print(f"{'class':>8} {'real':>5} {'gen':>5} {'held':>5} " + " ".join(f"{c:>15}" for c in columns))
    held = np.bincount(held_out.labels, minlength=len(names))
    for k, name in enumerate(names):
        mark = "*" if k in minority else " "
        print(f"{name + mark:>8} {counts[k]:>5} {augmented.generated[k]:>5} {held[k]:>5} "
              + " ".join(f"{accuracy[c][k]:>15.3f}" for c in columns))
    others = [k for k in range(len(names)) if k not in minority]
    summary = {}
    for label, group in (("minority mean", minority), ("other mean", others), ("all (class mean)", range(len(names)))):
        means = {c: float(np.mean(accuracy[c][list(group)])) for c in columns}
        summary[label] = means
        print(f"{label:>26} " + " ".join(f"{means[c]:>15.3f}" for c in columns))
    low = summary["minority mean"]
    won_back = (low["cut+generated"] - low["cut"]) / max(low["full"] - low["cut"], 1e-9)
    print(f"* cut to {args.cut}; cut+generated wins back {won_back:.0%} of the minority accuracy the cut lost "
          f"(oversampling: {(low['cut+oversampled'] - low['cut']) / max(low['full'] - low['cut'], 1e-9):.0%}); "
          f"cgan {gan_seconds:.0f} s, all {seconds:.0f} s")
    print(json.dumps({"benchmark": "cgan_augment", "data": args.data, "cut": args.cut, "run": str(run),
                      "balance_classes": config.balance_classes, "augment": record.options.augment,
                      "generated": int(sum(augmented.generated)), "held_out": int(len(held_out)),
                      "seeds": args.seeds, "minority_classes": [names[k] for k in minority],
                      "per_class": {c: [round(float(v), 4) for v in accuracy[c]] for c in columns},
                      **{f"{key.split(' ')[0]}_mean": {c: round(v, 4) for c, v in value.items()}
                         for key, value in summary.items()},
                      "minority_won_back": round(won_back, 3), "cgan_seconds": round(gan_seconds),
                      "seconds": round(seconds)}))


if __name__ == "__main__":
    main()
