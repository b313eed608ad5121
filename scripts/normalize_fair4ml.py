from hfharvest.cards import store_from
from hfharvest.jsonio import write_json
from hfharvest.normalize.doc_cache import DocumentCache
from hfharvest.normalize.inputs import RunInputs
from hfharvest.normalize.linked_stage import normalize_linked_data
from hfharvest.workflow import start_log

start_log(snakemake.log[0])
output = snakemake.output
run = RunInputs.from_rule(snakemake.input)
# Where documents are cached changes no output: from the config, not a param.
config = snakemake.config
cached = config["normalize"]["cache"]
cache = DocumentCache(f"{config['data_root']}/cache/normalize") if cached else None
stats = normalize_linked_data(
    run,
    output.models,
    output.datasets,
    output.triples,
    snakemake.params.max_text_chars,
    cache,
    store_from(config),  # README texts by the records' `card_sha256`
)
write_json(output.stats, stats)
