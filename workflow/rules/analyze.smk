# Per forget class: metrics, privacy attack, Avg. Gap, aligned embeddings and reference similarity
# (all models of the class together: UMAP's compilation is paid once per class). Then the tables.


ANALYSIS_OUT = {t: f"{RESULTS}/analysis/fc{{fc}}/{t}.arrow" for t in TABLES}


rule analyze:
    input:
        unpack(analysis_inputs),
    output:
        **ANALYSIS_OUT,
    log:
        job_log("analyze", "fc{fc}"),
    benchmark:
        job_benchmark("analyze", "fc{fc}")
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=lambda wc: spec(
            forget_class=int(wc.fc),
            evaluation={"mia_decimals": config["evaluation"]["mia_decimals"]},
            analysis=config["analysis"],
            selection=config["selection"],
        ),
        models=lambda wc: json.dumps(analysis_models(wc)),
        references=reference_grams_json,
        out=lambda wc, output: json.dumps({t: getattr(output, t) for t in TABLES}),
    shell:
        "python -m unlearning_comparator analyze --spec {params.spec:q} --models {params.models:q}"
        " --reference-grams {params.references:q} --out {params.out:q} > {log:q} 2>&1"


rule tables:
    input:
        fragments=expand(f"{RESULTS}/analysis/fc{{fc}}/{{table}}.arrow", fc=FORGET_CLASSES, table=TABLES),
        subset=rules.subsets.output.subset,
    output:
        **{t: f"{RESULTS}/tables/{t}.arrow" for t in TABLES},
    log:
        job_log("tables", "tables"),
    benchmark:
        job_benchmark("tables", "tables")
    conda:
        CONDA_ENV
    params:
        spec=lambda wc: spec(
            title=config.get("title"),
            forget_classes=FORGET_CLASSES,
            analysis=config["analysis"],
            training=config["training"],
            evaluation={"precision": config["evaluation"]["precision"]},
        ),
        fragments=json.dumps(
            {t: [f"{RESULTS}/analysis/fc{fc}/{t}.arrow" for fc in FORGET_CLASSES] for t in TABLES}
        ),
        out=lambda wc, output: json.dumps({t: getattr(output, t) for t in TABLES}),
    shell:
        "python -m unlearning_comparator tables --spec {params.spec:q} --fragments {params.fragments:q}"
        " --subset {input.subset:q} --out {params.out:q} > {log:q} 2>&1"
