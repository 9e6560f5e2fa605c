"""``pixring gnn train | embed | evaluate`` (handlers import torch, Spark and MLflow lazily)."""

from __future__ import annotations

import argparse


def _spark():
    from pixring.spark import get_spark

    return get_spark()


def train_config(args: argparse.Namespace):
    """The ``TrainConfig`` of ``pixring gnn train``: the options given, TrainConfig's defaults for the rest."""
    from gnn.train import TrainConfig

    given = {k: getattr(args, k) for k in _TRAIN_OPTIONS if getattr(args, k) is not None}
    return TrainConfig(**given, minibatch=args.minibatch)


def _cmd_train(args: argparse.Namespace) -> int:
    from gnn.train import run_training
    from pixring.settings import get_settings

    truth = None
    if args.truth:
        from graph.evaluate import read_ring_truth

        truth = read_ring_truth(args.truth)
    print(run_training(_spark(), get_settings(), train_config(args), model_name=args.model_name, truth=truth))
    return 0


def _cmd_embed(args: argparse.Namespace) -> int:
    from gnn.embed import run_embed
    from pixring.settings import get_settings

    print(run_embed(_spark(), get_settings(), model_name=args.model_name, version=args.version,
                    neo4j=not args.no_neo4j, max_explain=args.max_explain))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from pixring.settings import get_settings

    if args.protocol:
        return _cmd_protocol(args)
    from gnn.evaluate import evaluate_truth

    print(evaluate_truth(get_settings(), args.truth, model_name=args.model_name, version=args.version))
    return 0


def _cmd_protocol(args: argparse.Namespace) -> int:
    """Leave-one-typology-out on the current gold tables (:mod:`gnn.protocol`)."""
    import json
    from dataclasses import replace

    from gnn.data import read_frames
    from gnn.protocol import SCORERS, run_protocol
    from graph.evaluate import read_ring_truth as read_truth
    from gnn.train import TrainConfig
    from pixring.settings import get_settings

    settings = get_settings()
    truth = read_truth(args.truth, folds=args.folds)
    cfg = TrainConfig() if args.epochs is None else replace(TrainConfig(), epochs=args.epochs)
    if args.seed is not None:
        cfg = replace(cfg, seed=args.seed)
    scorers = (*SCORERS, "gbm_gfp") if args.gfp else SCORERS
    report = run_protocol(read_frames(_spark(), settings), truth, cfg, settings, scorers=scorers)
    print(report)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"summary": report.summary(), "table": report.table(),
                       "rows": [r.__dict__ for r in report.rows]}, fh, indent=1)
    return 0


#: the TrainConfig fields ``pixring gnn train`` exposes: argparse options without a default (the defaults stay
#: in TrainConfig alone)
_TRAIN_OPTIONS: dict[str, dict] = {
    "epochs": {"type": int, "help": "epochs"},
    "hidden": {"type": int, "help": "embedding size"},
    "lr": {"type": float, "help": "learning rate"},
    "seed": {"type": int, "help": "seed"},
    "input_dropout": {"type": float, "help": "dropout on the input features while training"},
    "ring_peers": {"choices": ("exclude", "negative"),
                   "help": "unlabelled ring-candidate peers of training positives: exclude from the loss or negative"},
    "cut_quantile": {"type": float, "help": "train on confirmed cases detected before this quantile of detection dates"},
    "batch_size": {"type": int, "help": "seed users per mini-batch (with --minibatch)"},
}


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``gnn`` and its subcommands to the ``pixring`` parser."""
    p = sub.add_parser("gnn", help="the GNN: train + register (MLflow), embed into gold and Neo4j, evaluate")
    gsub = p.add_subparsers(dest="gnn_command", required=True, metavar="GNN_COMMAND")

    g = gsub.add_parser("train", help="train the GNN, baselines and transaction head; register in MLflow "
                                      "(options left out take gnn.train.TrainConfig's defaults)")
    for name, options in _TRAIN_OPTIONS.items():
        g.add_argument("--" + name.replace("_", "-"), default=None, **options)
    g.add_argument("--minibatch", action="store_true", help="sampled subgraph batches instead of full batch")
    g.add_argument("--truth", default=None,
                   help="confirmed rings (datagen _truth or ring_id,id_usuario[,typology] CSV): the champion gate "
                        "becomes the leave-one-typology-out worst-typology AP instead of the holdout PR-AUC")
    g.add_argument("--model-name", default=None, help="registered model name (default: settings)")
    g.set_defaults(handler=_cmd_train)

    g = gsub.add_parser("embed", help="score the gold graph with the champion; write gold tables; push to Neo4j")
    g.add_argument("--version", default=None, help="model version (default: the champion)")
    g.add_argument("--model-name", default=None)
    g.add_argument("--no-neo4j", action="store_true", help="do not push the scores onto the Neo4j nodes")
    g.add_argument("--max-explain", type=int, default=500, help="flagged accounts explained (heaviest first)")
    g.set_defaults(handler=_cmd_embed)

    g = gsub.add_parser("evaluate", help="a model version's scores against datagen's ground truth (_truth/)")
    g.add_argument("--truth", required=True,
                   help="the _truth folder (or the datagen output folder); with --protocol also a CSV "
                        "ring_id,id_usuario[,typology] of a bank's confirmed rings")
    g.add_argument("--version", default=None, help="model version (default: the champion)")
    g.add_argument("--model-name", default=None)
    g.add_argument("--protocol", action="store_true",
                   help="leave-one-typology-out: retrain GBM and GNN per held-out typology, every scorer side by side")
    g.add_argument("--folds", type=int, default=5, help="with --protocol and no typology column: ring groups")
    g.add_argument("--epochs", type=int, default=None, help="with --protocol: GNN epochs (TrainConfig's default)")
    g.add_argument("--seed", type=int, default=None, help="with --protocol: seed (TrainConfig's default)")
    g.add_argument("--json", default=None, help="with --protocol: write the figures to this file")
    g.add_argument("--gfp", action="store_true",
                   help="with --protocol: also the GBM with the Graph-Feature-Preprocessor-style features (gbm_gfp)")
    g.set_defaults(handler=_cmd_evaluate)
