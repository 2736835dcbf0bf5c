# The original model (whole training split), one per replicate seed, and the gold standard: per replicate, a
# model retrained without each forget set.


rule train_original:
    input:
        data=DATA_MANIFEST,
    output:
        model=f"{RESULTS}/models/{{orig}}/model.pt",
        info=f"{RESULTS}/models/{{orig}}/info.json",
    log:
        job_log("train_original", "{orig}"),
    benchmark:
        job_benchmark("train_original", "{orig}")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        gpu=1,
    params:
        spec=lambda wc: train_spec(ORIGINALS[wc.orig]),
    shell:
        "python -m unlearning_comparator train --spec {params.spec:q} --threads {threads}"
        " --model {output.model:q} --info {output.info:q} > {log:q} 2>&1"


rule retrain:
    input:
        data=DATA_MANIFEST,
    output:
        model=f"{RESULTS}/models/{{sf}}/retrained/model.pt",
        info=f"{RESULTS}/models/{{sf}}/retrained/info.json",
    log:
        job_log("retrain", "{sf}"),
    benchmark:
        job_benchmark("retrain", "{sf}")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        gpu=1,
    params:
        # the spec names the forget set left out (and the replicate's seed)
        spec=lambda wc: train_spec(*SET_FOLDERS[wc.sf]),
    shell:
        "python -m unlearning_comparator train --spec {params.spec:q} --threads {threads}"
        " --model {output.model:q} --info {output.info:q} > {log:q} 2>&1"
