from hfharvest.jsonio import write_json
from hfharvest.stages.extract import file_ids
from hfharvest.workflow import job

with job(snakemake):
    model_ids, failures = file_ids(snakemake.params.models_file, strict=True)
    write_json(snakemake.output.ids, {"ids": model_ids, "failures": failures})
