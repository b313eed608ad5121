from hfharvest.jsonio import write_json
from hfharvest.stages.budget import requests_by_stage
from hfharvest.stages.summary import check_failed_fraction, requested_counts, summarize
from hfharvest.workflow import job

with job(snakemake) as config:
    inputs = snakemake.input
    stages = {name: inputs[name] for name in snakemake.params.stages}
    summary = summarize(snakemake.params.run_folder, stages, inputs.identified, inputs.enriched)
    summary["requested"] = requested_counts(
        inputs.extract_latest, inputs.extract_from_file, inputs.file_ids, config["hf"]["num_models"]
    )
    summary["requests"] = requests_by_stage(stages, inputs.requests)
    check_failed_fraction(summary["requested"], config["max_failed_fraction"])
    write_json(snakemake.output.summary, summary)
