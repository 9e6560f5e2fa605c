"""The ``pixring`` console script: one argparse tree; each subcommand calls into its package.

Logging is configured here, once. User-facing errors (:class:`PixringError`) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pixring import logs
from pixring.errors import PixringError

log = logging.getLogger(__name__)

Handler = Callable[[argparse.Namespace], int | None]


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


# --- handlers: thin, they import lazily so `pixring status` does not load Spark or torch ---------


def _cmd_up(args: argparse.Namespace) -> int:
    from infra.stack import Stack

    return Stack.from_settings().up(only=args.services)


def _cmd_down(args: argparse.Namespace) -> int:
    from infra.stack import Stack

    return Stack.from_settings().down(only=args.services)


def _cmd_status(args: argparse.Namespace) -> int:
    from infra.stack import Stack

    return Stack.from_settings().status()


def _cmd_setup_jars(args: argparse.Namespace) -> int:
    from infra.jars import resolve_all

    resolve_all(force=args.force)
    return 0


def _cmd_datagen(args: argparse.Namespace) -> int:
    from datagen.generator import generate

    report = generate(
        out=Path(args.out),
        scale=args.scale,
        seed=args.seed,
        fmt=args.format,
        difficulty=args.difficulty,
        overwrite=args.overwrite,
        typologies=args.typologies,
    )
    print(report)
    return 0


def _spark():
    from pixring.spark import get_spark

    return get_spark()


def _cmd_ingest(args: argparse.Namespace) -> int:
    from pixring.settings import get_settings

    if args.stream:
        from lakehouse.ingest import ingest_stream

        ingest_stream(_spark(), get_settings(), available_now=args.available_now)
        return 0
    if not args.source:
        raise PixringError("give --from DIR (datagen output) or --stream")
    from lakehouse.mapping import load_mapping

    mapping = load_mapping(Path(args.mapping)) if args.mapping else None
    if args.check:
        from lakehouse.check import check_files

        print(check_files(_spark(), get_settings(), Path(args.source), mapping))
        return 0
    from lakehouse.ingest import ingest_files

    print(ingest_files(_spark(), get_settings(), Path(args.source), mapping))
    return 0


def _cmd_produce(args: argparse.Namespace) -> int:
    from lakehouse.producer import produce
    from pixring.settings import get_settings

    print(produce(get_settings(), Path(args.source), rate=args.rate, limit=args.limit))
    return 0


def _cmd_refine(args: argparse.Namespace) -> int:
    from lakehouse.refine import refine
    from pixring.settings import get_settings

    print(refine(_spark(), get_settings(), as_of_version=args.as_of_version,
                 as_of_timestamp=args.as_of_timestamp, if_changed=args.if_changed))
    return 0


def _cmd_erase(args: argparse.Namespace) -> int:
    from lakehouse import erase as E
    from pixring.settings import get_settings

    if args.verify is not None:
        found = E.verify(_spark(), get_settings(), args.verify)
        print(found)
        return 1 if found.present else 0
    if args.vacuum:
        print("VACUUM: " + ", ".join(E.vacuum_all(_spark(), get_settings())))
        return 0
    report = E.erase(_spark(), get_settings(), cpf_cnpj=args.cpf_cnpj, by=args.by, reason=args.reason)
    print(report)
    return 1 if report.errors else 0


def _cmd_graph_build(args: argparse.Namespace) -> int:
    from graph.build import build_graph, reproduce
    from pixring.settings import get_settings

    if args.as_of_build:
        print(reproduce(_spark(), get_settings(), args.as_of_build))
    else:
        print(build_graph(_spark(), get_settings(), force=args.force))
    return 0


def _cmd_graph_rebuild(args: argparse.Namespace) -> int:
    from graph.build import rebuild_every
    from pixring.durations import parse_duration
    from pixring.settings import get_settings

    every = parse_duration(args.every)
    rebuild_every(_spark(), get_settings(), every, max_runs=args.max_runs, force=args.force)
    return 0


def _cmd_graph_evaluate(args: argparse.Namespace) -> int:
    from graph.evaluate import evaluate
    from pixring.settings import get_settings

    print(evaluate(_spark(), get_settings(), Path(args.truth), with_scores=args.scores))
    return 0


def _cmd_graph_load_neo4j(args: argparse.Namespace) -> int:
    from graph.neo4j_load import load_neo4j
    from pixring.settings import get_settings

    print(load_neo4j(_spark(), get_settings(), batch_size=args.batch_size, force=args.force))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from pixring.demo import run_demo

    return run_demo(scale=args.scale, seed=args.seed)


def _cmd_token(args: argparse.Namespace) -> int:
    import jwt

    from api.security import RevocationList, mint_token, token_id
    from pixring.settings import get_settings

    settings = get_settings()
    api = settings.api
    if args.revoke:
        given = args.revoke.strip()
        jti = token_id(api, given) if given.count(".") == 2 else given
        new = RevocationList.for_settings(settings.paths.home, api).revoke(jti)
        print(f"revoked {jti}" if new else f"{jti} was already revoked")
        return 0
    if not (args.subject and args.role):
        raise PixringError("token: --subject and --role (or --revoke JTI)")
    token = mint_token(api, args.subject, args.role, args.ttl_hours if args.ttl_hours else api.jwt_max_ttl_hours)
    print(token)
    print(f"jti {jwt.decode(token, options={'verify_signature': False})['jti']}", file=sys.stderr)
    return 0


BENCHES: tuple[str, ...] = ("datagen", "lakehouse", "check", "graph", "gnn", "stream", "api", "kafka", "detection")


def _cmd_bench(args: argparse.Namespace) -> int:
    import subprocess

    script = Path(__file__).resolve().parent.parent / "bench" / f"bench_{args.name}.py"
    if not script.is_file():
        raise PixringError(f"{script} not found: benchmarks run from a source checkout")
    return subprocess.call([sys.executable, str(script), *args.bench_args])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pixring", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    services = ["kafka", "neo4j", "mlflow", "prometheus", "stream", "api"]
    for name, handler, text in (
        ("up", _cmd_up, "start the local services (idempotent)"),
        ("down", _cmd_down, "stop the local services, clean stale pid files"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("services", nargs="*", default=[], metavar="SERVICE",
                       help=f"subset of {', '.join(services)} (default: all but stream and api, which start "
                            "only when named)")
        p.set_defaults(handler=handler)
    sub.add_parser("status", help="report each local service").set_defaults(handler=_cmd_status)

    p = sub.add_parser("jars", help="resolve the JVM dependencies with mvn into $PIXRING_CACHE/jars")
    p.add_argument("--force", action="store_true")
    p.set_defaults(handler=_cmd_setup_jars)

    p = sub.add_parser("datagen", help="generate the seven Pix data sets with planted rings")
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", required=True)
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.add_argument("--difficulty", default="normal",
                   help="easy | normal | hard | diverse (every typology, with legitimate look-alikes)")
    p.add_argument("--typologies", default=None,
                   help="comma-separated typologies to plant (default: the difficulty's; docs/datagen.md)")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(handler=_cmd_datagen)

    p = sub.add_parser("ingest", help="land datagen files (or the Kafka stream) in bronze Delta tables")
    p.add_argument("--from", dest="source", help="a datagen output folder (CSV or Parquet)")
    p.add_argument("--stream", action="store_true", help="stream pix.transacoes from Kafka into bronze")
    p.add_argument("--available-now", action="store_true", help="with --stream: process what is there, then stop")
    p.add_argument("--mapping", metavar="FILE",
                   help="a source's mapping file (YAML/TOML): renames, enum value maps, constants, CSV dialect and "
                        "encoding (docs/contract.md)")
    p.add_argument("--check", action="store_true",
                   help="dry run: per file what would land and what would be quarantined (top reasons, sample "
                        "lines); writes nothing")
    p.set_defaults(handler=_cmd_ingest)

    p = sub.add_parser("produce", help="replay transacoes_pix into Kafka in timestamp order at a rate")
    p.add_argument("--from", dest="source", required=True)
    p.add_argument("--rate", type=_positive_float, default=1000.0, help="messages per second")
    p.add_argument("--limit", type=int, default=None)
    p.set_defaults(handler=_cmd_produce)

    p = sub.add_parser("refine", help="bronze -> silver (typed, deduplicated, PII tokenised) -> gold features")
    p.add_argument("--as-of-version", type=int, default=None, help="read bronze at this Delta version")
    p.add_argument("--as-of-timestamp", default=None, help="read bronze as of this timestamp")
    p.add_argument("--if-changed", action="store_true",
                   help="do nothing when silver was last built from exactly this bronze snapshot")
    p.set_defaults(handler=_cmd_refine)

    p = sub.add_parser("erase", help="LGPD erasure of one person from every store (ledger, Delta, Neo4j, MLflow, Kafka)")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--cpf-cnpj", help="erase the person with this CPF/CNPJ")
    what.add_argument("--verify", metavar="ID", help="CPF/CNPJ, account or transaction id: list every store, "
                      "absent or present (exit 1 when present anywhere)")
    what.add_argument("--vacuum", action="store_true", help="VACUUM every lakehouse table with the configured "
                      "retention (after an erasure's retention has passed)")
    p.add_argument("--by", default=None, help="who asked for / runs the erasure (default: the OS user)")
    p.add_argument("--reason", default=None, help="recorded in the ledger (default: a data subject request)")
    p.set_defaults(handler=_cmd_erase)

    p = sub.add_parser("graph", help="the graph of chaves, usuarios and dispositivos: build, rings, Neo4j")
    graph_sub = p.add_subparsers(dest="graph_command", required=True, metavar="GRAPH_COMMAND")
    g = graph_sub.add_parser("build", help="silver -> graph, motifs, communities, ring candidates (gold)")
    g.add_argument("--force", action="store_true", help="rebuild even if silver did not change")
    g.add_argument("--as-of-build", default=None, metavar="BUILD_ID",
                   help="reproduce a past build from the silver versions it recorded")
    g.set_defaults(handler=_cmd_graph_build)
    g = graph_sub.add_parser("rebuild", help="run graph builds periodically (no-op while silver is unchanged)")
    g.add_argument("--every", default="15m", help="interval, e.g. 30s, 15m, 1h (default 15m)")
    g.add_argument("--max-runs", type=int, default=None, help="stop after this many runs (default: never)")
    g.add_argument("--force", action="store_true", help="the first run rebuilds even if silver did not change")
    g.set_defaults(handler=_cmd_graph_rebuild)
    g = graph_sub.add_parser("evaluate", help="ring candidates against a ground truth (datagen's _truth/ or a bank's)")
    g.add_argument("--truth", required=True, help="the _truth folder (or the datagen output folder), or a CSV "
                                                  "ring_id,id_usuario[,typology] of confirmed rings")
    g.add_argument("--scores", action="store_true",
                   help="also the candidates seeded from the GNN's gold node_scores (connected flagged accounts)")
    g.set_defaults(handler=_cmd_graph_evaluate)
    g = graph_sub.add_parser("load-neo4j", help="load the gold graph and ring candidates into Neo4j")
    g.add_argument("--batch-size", type=int, default=5000)
    g.add_argument("--force", action="store_true", help="read and compare everything even if this build was loaded")
    g.set_defaults(handler=_cmd_graph_load_neo4j)

    p = sub.add_parser("demo", help="run the whole pipeline end to end and print where to look")
    p.add_argument("--scale", type=_positive_float, default=1.0)
    p.add_argument("--seed", type=int, default=42)
    p.set_defaults(handler=_cmd_demo)

    p = sub.add_parser("token", help="mint a signed per-person API bearer token (JWT: subject, role, expiry), or --revoke one")
    p.add_argument("--subject", help="who: an e-mail or login; the audit log names it")
    p.add_argument("--role", choices=["service", "investigator", "investigator_pii"])
    p.add_argument("--revoke", metavar="JTI|TOKEN", help="revoke one token (by its jti, printed on stderr when "
                   "minted, or the token itself): every API worker answers it 401 from its next request")
    p.add_argument("--ttl-hours", type=_positive_float, default=None,
                   help="validity (default and maximum: PIXRING_API_JWT_MAX_TTL_HOURS)")
    p.set_defaults(handler=_cmd_token)

    p = sub.add_parser("bench", help="run a benchmark script of bench/ (prints figures; see docs)")
    p.add_argument("name", choices=BENCHES, help="which benchmark: bench/bench_NAME.py")
    p.add_argument("bench_args", nargs=argparse.REMAINDER, help="arguments passed to the script (see its --help)")
    p.set_defaults(handler=_cmd_bench)

    # Each later package owns its commands in ``<package>/cli.py``: ``add_commands(sub)`` adds its parser(s).
    for package in PACKAGE_COMMANDS:
        importlib.import_module(f"{package}.cli").add_commands(sub)
    return parser


#: Packages that contribute subcommands through ``<package>/cli.py:add_commands``.
PACKAGE_COMMANDS: tuple[str, ...] = tuple(
    name for name in ("gnn", "streaming", "api")
    if importlib.util.find_spec(name) is not None and importlib.util.find_spec(f"{name}.cli") is not None
)


def _start_up() -> None:
    """Settings validated, umask and data root permissions set, production checks (:mod:`pixring.security`)."""
    from pydantic import ValidationError

    from pixring import security
    from pixring.settings import get_settings

    try:
        settings = get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        raise PixringError(f"invalid settings ({exc.title}{'.' + where if where else ''}): {first['msg']}") from None
    security.start_up(settings)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from pixring.settings import LogSettings

    logs.configure(args.verbose, LogSettings().format)  # once, for the whole command
    try:
        _start_up()
    except PixringError as exc:
        print(f"pixring {args.command}: error: {exc}", file=sys.stderr)
        return 2
    try:
        with logs.bind(logs.new_id(f"cli-{args.command}-")):
            rc = args.handler(args)
    except PixringError as exc:
        print(f"pixring {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
