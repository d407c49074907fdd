"""kade on Apache Spark (the ``kade[spark]`` extra): the same rule tables and the
same evaluator over Spark DataFrames, for registers past one machine.

    from engine.spark import evaluate, session
    spark = session("local[2]")
    done = evaluate(rules, {"客户": spark.read.parquet("客户.parquet"), "合同": spark.read.parquet("合同.parquet")})
    done.frames["contracts"].write.parquet("out/合同")

``evaluate`` (engine.spark.evaluate) wires the DataFrames; ``engine.spark.partition``
is what executors run; ``engine.spark.job`` is ``kade evaluate DATA --spark MASTER``.
"""

from __future__ import annotations

from engine.errors import KadeError


def require_pyspark() -> None:
    """A clear error when the extra is not installed."""
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise KadeError("Spark needs the kade[spark] extra: pip install 'kade[spark]' (and Java 17+)") from exc


def session(master: str | None = None, *, app_name: str = "kade", conf: dict[str, str] | None = None):
    """A SparkSession (an existing one is reused; ``master`` e.g. local[2],
    spark://host:7077, yarn). Times are read in UTC so dates do not shift."""
    require_pyspark()
    import warnings

    from pyspark.sql import SparkSession

    from engine.spark.evaluate import PANDAS_3_WARNING

    warnings.filterwarnings("ignore", message=PANDAS_3_WARNING, category=FutureWarning)
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    settings = {
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.showConsoleProgress": "false",
        **(conf or {}),
    }
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def evaluate(rules, frames, **options):
    """engine.spark.evaluate.evaluate: decide Spark DataFrames named by entity or sheet."""
    require_pyspark()
    from engine.spark.evaluate import evaluate as evaluate_frames

    return evaluate_frames(rules, frames, **options)


__all__ = ["evaluate", "require_pyspark", "session"]
