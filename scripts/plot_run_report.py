from hfharvest import report
from hfharvest.plot_cache import plot_cache
from hfharvest.workflow import start_log

start_log(snakemake.log[0])
inputs, outputs = snakemake.input, snakemake.output
cache = plot_cache(snakemake.config)  # reused pictures change no output: not params
report.plot_models(inputs.models, inputs.licenses, outputs, cache)
report.plot_entities(inputs.summary, outputs.entities, cache)
report.plot_timings(inputs.benchmarks, snakemake.params.benchmarks, outputs.timings)
