# Per forget class: metrics, privacy attack, Avg. Gap, aligned embeddings and reference similarity
# (all models of the class together: UMAP's compilation is paid once per class). Then the tables.


def analysis_models(wc):
    entries = []
    for run_id, folder in models_of(wc.fc):
        entry = {"run_id": run_id, "info": info_path(folder)}
        entry.update({k: f"{RESULTS}/evaluation/{folder}/{k}.arrow" for k in ("logits", "features", "similarity")})
        entries.append(entry)
    return entries


def analysis_inputs(wc):
    files = {f"{e['run_id']}:{k}": e[k] for e in analysis_models(wc) for k in ("info", "logits", "features", "similarity")}
    return {**files, **reference_grams(wc), "data": DATA_MANIFEST}


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
    params:
        spec=lambda wc: spec(
            forget_class=int(wc.fc),
            evaluation={"mia_decimals": config["evaluation"]["mia_decimals"]},
            analysis=config["analysis"],
        ),
        models=lambda wc: json.dumps(analysis_models(wc)),
        references=reference_grams_json,
        out=lambda wc, output: json.dumps({t: getattr(output, t) for t in TABLES}),
    threads: 1
    shell:
        "{PYTHON} -m unlearning_comparator analyze --spec {params.spec:q} --models {params.models:q}"
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
        "{PYTHON} -m unlearning_comparator tables --spec {params.spec:q} --fragments {params.fragments:q}"
        " --subset {input.subset:q} --out {params.out:q} > {log:q} 2>&1"
