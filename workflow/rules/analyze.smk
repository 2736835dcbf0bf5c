# Per forget set, over every replicate: metrics, privacy attack, Avg. Gap, aligned embeddings and reference
# similarity (all models of the set together: UMAP's compilation is paid once per set), and the set's
# fragments of the forget-set and summary tables. Then the tables (with the audit's, when audit.smk runs).


ANALYSIS_OUT = {t: f"{RESULTS}/analysis/{{forget_set}}/{t}.arrow" for t in TABLES}


rule analyze:
    input:
        unpack(analysis_inputs),
    output:
        **ANALYSIS_OUT,
    log:
        job_log("analyze", "{forget_set}"),
    benchmark:
        job_benchmark("analyze", "{forget_set}")
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=lambda wc: spec(
            forget_class=SETS[wc.forget_set].forget_class,
            forget_set=SETS[wc.forget_set].to_json(),
            seeds=[r.seed for r in REPLICATES],
            evaluation={"mia_decimals": config["evaluation"]["mia_decimals"]},
            analysis=config["analysis"],
            selection=config["selection"],
            results=RESULTS,  # where the models' folders are (see analysis_models)
        ),
        models=analysis_models_json,
        references=lambda wc: json.dumps(analysis_references(wc)),
        out=lambda wc, output: json.dumps({t: getattr(output, t) for t in TABLES}),
    shell:
        "python -m unlearning_comparator analyze --spec {params.spec:q} --models {params.models:q}"
        " --reference-grams {params.references:q} --out {params.out:q} > {log:q} 2>&1"


rule tables:
    input:
        fragments=expand(
            f"{RESULTS}/analysis/{{forget_set}}/{{table}}.arrow", forget_set=SETS, table=OUTPUT_TABLES
        ),
        subset=rules.subsets.output.subset,
    output:
        **{t: f"{RESULTS}/tables/{t}.arrow" for t in OUTPUT_TABLES},
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
            forget_sets=[s.to_json() for s in FORGET_SETS],
            seeds=[r.seed for r in REPLICATES],
            refused=REFUSED,
            audit=config["audit"],
            analysis=config["analysis"],
            training=config["training"],
            evaluation={"precision": config["evaluation"]["precision"]},
        ),
        fragments=json.dumps({t: [f"{RESULTS}/analysis/{s}/{t}.arrow" for s in SETS] for t in OUTPUT_TABLES}),
        out=lambda wc, output: json.dumps({t: getattr(output, t) for t in OUTPUT_TABLES}),
    shell:
        "python -m unlearning_comparator tables --spec {params.spec:q} --fragments {params.fragments:q}"
        " --subset {input.subset:q} --out {params.out:q} > {log:q} 2>&1"
