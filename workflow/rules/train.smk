# The original model (whole training split) and the gold standard: a model retrained without each forget class.


rule train_original:
    input:
        data=DATA_MANIFEST,
    output:
        model=f"{RESULTS}/models/original/model.pt",
        info=f"{RESULTS}/models/original/info.json",
    log:
        job_log("train_original", "original"),
    benchmark:
        job_benchmark("train_original", "original")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        gpu=1,
    params:
        spec=lambda wc: spec(training=config["training"]),
    shell:
        "python -m unlearning_comparator train --spec {params.spec:q} --threads {threads}"
        " --model {output.model:q} --info {output.info:q} > {log:q} 2>&1"


rule retrain:
    input:
        data=DATA_MANIFEST,
    output:
        model=f"{RESULTS}/models/fc{{fc}}/retrained/model.pt",
        info=f"{RESULTS}/models/fc{{fc}}/retrained/info.json",
    log:
        job_log("retrain", "fc{fc}"),
    benchmark:
        job_benchmark("retrain", "fc{fc}")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        gpu=1,
    params:
        spec=lambda wc: spec(training=config["training"]),
    shell:
        "python -m unlearning_comparator train --spec {params.spec:q} --threads {threads}"
        " --forget-class {wildcards.fc} --model {output.model:q} --info {output.info:q} > {log:q} 2>&1"
