# The per-example privacy audit of each forget set (config audit.shadow_models; off by default): U-LiRA,
# offline RMIA and the NeurIPS 2023 challenge's epsilon score, from the logits every model's evaluation
# already wrote (no model runs again). Each replicate's models are audited against other replicates'.


rule audit:
    input:
        unpack(audit_inputs),
    output:
        **{t: f"{RESULTS}/analysis/{{forget_set}}/{t}.arrow" for t in AUDIT_TABLES},
    log:
        job_log("audit", "{forget_set}"),
    benchmark:
        job_benchmark("audit", "{forget_set}")
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=lambda wc: spec(
            forget_set=SETS[wc.forget_set].to_json(),
            seeds=[r.seed for r in REPLICATES],
            audit=config["audit"],
            results=RESULTS,  # where the models' folders are (see analysis_models)
        ),
        models=analysis_models_json,
        out=lambda wc, output: json.dumps({t: getattr(output, t) for t in AUDIT_TABLES}),
    shell:
        "python -m unlearning_comparator audit --spec {params.spec:q} --models {params.models:q}"
        " --out {params.out:q} > {log:q} 2>&1"
