from hfharvest.workflow import extractor_from, job, write_stage

with job(snakemake) as config:
    params = snakemake.params
    extractor = extractor_from(config, cache=False)
    # The bulk bootstrap asks for the models' file names: no README request for a card-less one.
    siblings = bool(config["hf"].get("bulk_cards"))
    listing = extractor.listing_outcomes(params.num_models, params.offset, siblings)
    write_stage(snakemake.output.listing, "list_latest_models", listing, extractor)
