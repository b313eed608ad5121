from snakemake.utils import min_version, validate
from hfharvest.runconfig import precheck

min_version("9.0")


configfile: "config/config.yaml"


precheck(
    config
)  # size and credentials: before the schema walks (and echoes) the values
validate(config, "schemas/config.schema.yaml")


include: "rules/common.smk"
include: "rules/extract.smk"
include: "rules/ancestors.smk"
include: "rules/identify.smk"
include: "rules/enrich.smk"
include: "rules/delta.smk"
include: "rules/summary.smk"
include: "rules/report.smk"
include: "rules/normalize.smk"


rule all:
    default_target: True
    input:
        rules.add_ancestor_models.output.models,
        rules.summarize_run.output.summary,
        rules.write_delta.output.delta,
        rules.plot_run_report.output,
        rules.normalize_fair4ml.output,
        rules.build_catalogue.output,
        rules.plot_lineage_families.output,
        postgres_targets(),
