"""Build a corpus manifest (thin CLI over raysim.data.corpora).

    python features/manifest.py --corpus urdu --root /data/urdu --out urdu.parquet
    python features/manifest.py --corpus folder --root /data/mine \
        --pattern "{label}/{speaker}_{utt}.wav" --out mine.parquet
    python features/manifest.py --from-csv /data/mine/meta.csv \
        --columns path=file,label=emotion,speaker=spk --out mine.parquet
    ... --where "label in [W,F,N,T]" --where split=train

`--corpus NAME` reads a published layout (raysim.data.corpora.BUILDERS); `--corpus
folder` any folder, by a path pattern with named fields (raysim.data.corpora.folder);
`--from-csv` a table of files (raysim.data.corpora.csv_table; relative paths against
--root, else the table's folder). `--where` keeps the rows that pass every filter
(raysim.data.where) and prints how many it dropped.

Prints one JSON line: the corpus, the row count and the output path. Feed the
manifest to `features/extract.py --manifest ...` to build a feature store.

Every file's header is read (unless --no-probe): an empty, unreadable or truncated file
stops the build, naming it; with --on-error skip such files are left out and listed,
with reasons, in OUT's `.skipped.csv` (urdu.parquet → urdu.skipped.csv). The sample
rates and channel counts found are printed on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd

from raysim.audio.conversion import header_summary
from raysim.data.corpora import BUILDERS, build_manifest
from raysim.data.corpora.csv_table import build_csv_manifest, parse_column_map
from raysim.data.corpora.folder import scan_folder
from raysim.data.manifest import (
    SKIPPED_COLUMNS,
    AudioFileError,
    ManifestError,
    audio_formats,
    contents_summary,
    skipped_path,
    validate_manifest,
    write_manifest,
    write_skipped,
)
from raysim.data.where import WhereError, apply_where

SHOWN_SKIPPED = 5  # skipped files printed; the table lists them all


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, build and write the manifest, print a one-line summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus", choices=[*sorted(BUILDERS), "folder"])
    source.add_argument("--from-csv", metavar="PATH", help="a CSV/TSV table of the files")
    parser.add_argument(
        "--root",
        help="the corpus folder (published layout, or --pattern's root); with --from-csv, "
        "what relative paths are resolved against (default: the table's folder)",
    )
    parser.add_argument(
        "--pattern",
        help='with --corpus folder: path under --root, e.g. "{label}/{speaker}_{utt}.wav"',
    )
    parser.add_argument(
        "--columns",
        help="with --from-csv: manifest=table column names, e.g. path=file,label=emotion",
    )
    parser.add_argument(
        "--where",
        action="append",
        default=[],
        help='keep rows passing this filter: "label in [W,F,N,T]", label=N, split!=test '
        "(repeatable)",
    )
    parser.add_argument("--out", required=True, help="output Parquet manifest")
    parser.add_argument(
        "--no-probe", action="store_true", help="do not open the audio files to check them"
    )
    parser.add_argument("--on-error", choices=("raise", "skip"), default="raise")
    args = parser.parse_args(argv)
    if args.corpus and not args.root:
        parser.error("--corpus needs --root")
    if (args.corpus == "folder") != bool(args.pattern):
        parser.error("--pattern goes with --corpus folder, and --corpus folder needs it")
    if args.columns and not args.from_csv:
        parser.error("--columns goes with --from-csv")
    try:
        df, unmatched = _unprobed(args)  # probed below: keeps the skipped files
        df, dropped = apply_where(df, args.where)
        if args.where:
            print(f"--where: dropped {dropped} of {len(df) + dropped} rows", file=sys.stderr)
            if df.empty:
                raise WhereError(f"--where {' and '.join(args.where)} leaves no row")
        df, skipped = validate_manifest(df, check_audio=not args.no_probe, on_error=args.on_error)
    except AudioFileError as err:
        parser.exit(
            2,
            f"error: {err}\nuse --on-error skip to skip such files "
            f"(they are then listed in {skipped_path(args.out)})\n",
        )
    except (FileNotFoundError, ManifestError) as err:  # a bad layout, pattern, table, filter
        parser.exit(2, f"error: {err}\n")
    skipped = pd.concat([t for t in (unmatched, skipped) if len(t)] or [skipped], ignore_index=True)
    path = write_manifest(df, args.out)
    summary = {"corpus": args.corpus or "csv", "rows": len(df), "out": str(path)}
    if args.where:
        summary["dropped"] = dropped
    print(f"contents: {contents_summary(df)}", file=sys.stderr)
    formats = audio_formats(df)
    if formats is not None:
        print(f"audio: {header_summary(formats)}", file=sys.stderr)
    if args.on_error == "skip":
        table = write_skipped(skipped, path)
        summary.update(skipped=len(skipped), skipped_table=str(table))
        total = len(df) + len(skipped)
        print(
            f"skipped {len(skipped)} of {total} files, listed with reasons in {table}",
            file=sys.stderr,
        )
        for row in skipped.head(SHOWN_SKIPPED).itertuples():
            print(f"  {row.path}: {row.reason}", file=sys.stderr)
    print(json.dumps(summary))
    return 0


def _unprobed(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(manifest, files left out for not matching --pattern) of the chosen source,
    headers not read."""
    none = pd.DataFrame(columns=list(SKIPPED_COLUMNS))
    if args.from_csv:
        columns = parse_column_map(args.columns)
        return build_csv_manifest(args.from_csv, columns=columns, root=args.root, probe=False), none
    if args.corpus == "folder":
        return scan_folder(args.root, args.pattern, on_error=args.on_error)
    return build_manifest(args.corpus, args.root, probe=False), none


if __name__ == "__main__":
    sys.exit(main())
