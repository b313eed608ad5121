from hfharvest import report
from hfharvest.workflow import start_log

start_log(snakemake.log[0])
inputs, outputs = snakemake.input, snakemake.output
report.plot_models(inputs.models, inputs.licenses, outputs)
report.plot_entities(inputs.summary, outputs.entities)
report.plot_timings(inputs.benchmarks, snakemake.params.benchmarks, outputs.timings)
