# One enrich rule per kind: each entity fetched or resolved from its authoritative source.


rule enrich_datasets:
    input:
        mapping=rules.identify.output.datasets,
    output:
        entities=run_file("hf_datasets_specific.json"),
        requests=run_file("requests/enrich_datasets.json"),
    log:
        log_file("enrich_datasets"),
    benchmark:
        benchmark_file("enrich_datasets")
    conda:
        "../environment.yml"
    threads: 1
    resources:
        mem_mb=2048,
        runtime=60,
        hf_api=1,
    params:
        hub=HUB,
    script:
        "../scripts/enrich_datasets.py"


rule enrich_articles:
    input:
        mapping=rules.identify.output.articles,
    output:
        entities=run_file("arxiv_articles.json"),
        requests=run_file("requests/enrich_articles.json"),
    log:
        log_file("enrich_articles"),
    benchmark:
        benchmark_file("enrich_articles")
    conda:
        "../environment.yml"
    resources:
        mem_mb=1024,
        runtime=60,
        arxiv_api=1,
    params:
        arxiv=ARXIV,
    script:
        "../scripts/enrich_articles.py"


rule enrich_base_models:
    input:
        mapping=rules.identify.output.base_models,
        models=rules.add_ancestor_models.output.models,
    output:
        entities=run_file("hf_base_models.json"),
        requests=run_file("requests/enrich_base_models.json"),
    log:
        log_file("enrich_base_models"),
    benchmark:
        benchmark_file("enrich_base_models")
    conda:
        "../environment.yml"
    resources:
        mem_mb=2048,
        runtime=30,
    script:
        "../scripts/enrich_base_models.py"


rule enrich_tasks:
    input:
        mapping=rules.identify.output.tasks,
    output:
        entities=run_file("tasks.json"),
        requests=run_file("requests/enrich_tasks.json"),
    log:
        log_file("enrich_tasks"),
    benchmark:
        benchmark_file("enrich_tasks")
    conda:
        "../environment.yml"
    resources:
        mem_mb=1024,
        runtime=10,
        hf_api=1,
    params:
        hub=HUB,
    script:
        "../scripts/enrich_tasks.py"


rule enrich_licenses:
    input:
        mapping=rules.identify.output.licenses,
    output:
        entities=run_file("licenses.json"),
        requests=run_file("requests/enrich_licenses.json"),
    log:
        log_file("enrich_licenses"),
    benchmark:
        benchmark_file("enrich_licenses")
    conda:
        "../environment.yml"
    resources:
        mem_mb=1024,
        runtime=10,
    script:
        "../scripts/enrich_licenses.py"


rule enrich_languages:
    input:
        mapping=rules.identify.output.languages,
    output:
        entities=run_file("languages.json"),
        requests=run_file("requests/enrich_languages.json"),
    log:
        log_file("enrich_languages"),
    benchmark:
        benchmark_file("enrich_languages")
    conda:
        "../environment.yml"
    resources:
        mem_mb=1024,
        runtime=10,
    script:
        "../scripts/enrich_languages.py"


rule enrich_keywords:
    input:
        mapping=rules.identify.output.keywords,
    output:
        entities=run_file("keywords.json"),
        requests=run_file("requests/enrich_keywords.json"),
    log:
        log_file("enrich_keywords"),
    benchmark:
        benchmark_file("enrich_keywords")
    conda:
        "../environment.yml"
    resources:
        mem_mb=1024,
        runtime=10,
    script:
        "../scripts/enrich_keywords.py"
