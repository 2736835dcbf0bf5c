# The static site, built from the tables alone (a local rule: light, and it must run where the results are).


localrules:
    site,


rule site:
    input:
        tables=expand(f"{RESULTS}/tables/{{table}}.arrow", table=OUTPUT_TABLES),
        subset=rules.subsets.output.subset,
        thumbnails=rules.subsets.output.thumbnails,
    output:
        index=f"{RESULTS}/site/index.html",
    log:
        job_log("site", "site"),
    benchmark:
        job_benchmark("site", "site")
    conda:
        CONDA_ENV
    params:
        tables=lambda wc, input: os.path.dirname(input.subset),
        out=lambda wc, output: os.path.dirname(output.index),
    shell:
        "python -m comparator_site build --tables {params.tables:q} --out {params.out:q} > {log:q} 2>&1"
