"""The /redshift-alerts fixtures as the AWS sample's export writes them: Parquet, partitioned.

Reads tests/fixtures/redshift/<table>.tsv (header cells `name:type`, the partition columns
`clusterid` and `startdate` first) and writes <out>/<table>/clusterid=<c>/startdate=<d>/part-00000.parquet,
the partition columns in the folder names only, as Spark's partitioned writer does for the sample
(https://github.com/aws-samples/aws-big-data-blog/tree/master/aws-blog-retain-redshift-stl:
partitionColumns=["clusterid","startdate"]). Every date and timestamp is moved by --shift-days, so
the sandbox can end its data today. DuckDB (pinned in scripts/requirements.txt, also ministack's
SQL engine) writes the files; the same input and version give the same bytes.

Usage: python scripts/redshift_parquet.py --fixtures DIR --out DIR --shift-days N
"""

import argparse
import pathlib

import duckdb

# Fixture header types -> DuckDB types (the Glue types of the catalogue are the header's own).
TYPES = {"string": "VARCHAR", "int": "INTEGER", "bigint": "BIGINT", "timestamp": "TIMESTAMP", "boolean": "BOOLEAN"}


def convert(con, tsv, out, shift_days):
    header = tsv.read_text().splitlines()[0].split("\t")
    columns = [cell.split(":", 1) for cell in header]
    assert [name for name, _ in columns[:2]] == ["clusterid", "startdate"], tsv
    raw = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(columns)))
    projected = []
    for i, (name, kind) in enumerate(columns):
        value = f"c{i}"
        if name == "startdate":
            value = f"strftime(CAST(c{i} AS DATE) + {shift_days}, '%Y-%m-%d')"
        elif kind == "timestamp":
            value = f"CAST(NULLIF(c{i}, '') AS TIMESTAMP) + INTERVAL ({shift_days}) DAY"
        elif kind != "string":
            value = f"CAST(NULLIF(c{i}, '') AS {TYPES[kind]})"
        projected.append(f'{value} AS "{name}"')
    target = out / tsv.stem
    target.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"COPY (SELECT {', '.join(projected)} FROM read_csv('{tsv}', delim = '\t', header = true, "
        f"quote = '', escape = '', auto_detect = false, columns = {{{raw}}}) ORDER BY ALL) "
        f"TO '{target}' (FORMAT PARQUET, PARTITION_BY (clusterid, startdate), "
        f"FILENAME_PATTERN 'part-{{i}}', OVERWRITE_OR_IGNORE true)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=pathlib.Path, required=True)
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--shift-days", type=int, default=0)
    args = parser.parse_args()
    con = duckdb.connect()
    # One thread: one file per partition, in a stable order.
    con.execute("SET threads = 1")
    for tsv in sorted(args.fixtures.glob("*.tsv")):
        convert(con, tsv, args.out, args.shift_days)


if __name__ == "__main__":
    main()
