# One forward pass per split per model. The reference models (original, retrained) also keep the
# Gram matrices of their CKA batches, so every other model is compared with them without re-running them
# (each model with the reference models of its own replicate).
#
# An unlearned model is evaluated by its own unlearning job (unlearn.smk: one process per run instead of
# two), so in a normal run evaluate_compared evaluates the external models only. It can still re-evaluate
# unlearned models without re-running their methods: with --allowed-rules evaluate_compared (and the
# rules after it), as benchmarks/evaluation_precision.py does.


ruleorder: unlearn > evaluate_compared


rule evaluate_original:
    input:
        data=DATA_MANIFEST,
        model=rules.train_original.output.model,
        info=rules.train_original.output.info,
    output:
        **eval_outputs("{orig}"),
        grams=f"{RESULTS}/evaluation/{{orig}}/grams.pt",
    log:
        job_log("evaluate", "{orig}"),
    benchmark:
        job_benchmark("evaluate", "{orig}")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        gpu=1,
    params:
        spec=lambda wc: evaluation_spec(f"original{ORIGINALS[wc.orig].suffix}"),
    shell:
        "python -m unlearning_comparator evaluate --spec {params.spec:q} --threads {threads}"
        " --model {input.model:q} --info {input.info:q} --logits {output.logits:q}"
        " --features {output.features:q} --similarity {output.similarity:q} --summary {output.summary:q}"
        " --grams-out {output.grams:q} > {log:q} 2>&1"


rule evaluate_retrained:
    input:
        data=DATA_MANIFEST,
        model=rules.retrain.output.model,
        info=rules.retrain.output.info,
    output:
        **eval_outputs("{sf}/retrained"),
        grams=f"{RESULTS}/evaluation/{{sf}}/retrained/grams.pt",
    log:
        job_log("evaluate", "{sf}/retrained"),
    benchmark:
        job_benchmark("evaluate", "{sf}/retrained")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        gpu=1,
    params:
        spec=lambda wc: retrained_evaluation_spec(*SET_FOLDERS[wc.sf]),
    shell:
        "python -m unlearning_comparator evaluate --spec {params.spec:q} --threads {threads}"
        " --model {input.model:q} --info {input.info:q} --logits {output.logits:q}"
        " --features {output.features:q} --similarity {output.similarity:q} --summary {output.summary:q}"
        " --grams-out {output.grams:q} > {log:q} 2>&1"


rule evaluate_compared:
    input:
        unpack(reference_grams),
        data=DATA_MANIFEST,
        model=f"{RESULTS}/models/{{sf}}/{{kind}}/{{key}}/model.pt",
        info=f"{RESULTS}/models/{{sf}}/{{kind}}/{{key}}/info.json",
    output:
        **eval_outputs("{sf}/{kind}/{key}"),
    log:
        job_log("evaluate", "{sf}/{kind}/{key}"),
    benchmark:
        job_benchmark("evaluate", "{sf}/{kind}/{key}")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        gpu=1,
    params:
        spec=lambda wc: evaluation_spec(run_id_of(wc.sf, wc.kind, wc.key), SET_FOLDERS[wc.sf][1]),
        references=reference_grams_json,
    shell:
        "python -m unlearning_comparator evaluate --spec {params.spec:q} --threads {threads}"
        " --model {input.model:q} --info {input.info:q} --logits {output.logits:q}"
        " --features {output.features:q} --similarity {output.similarity:q} --summary {output.summary:q}"
        " --reference-grams {params.references:q} > {log:q} 2>&1"
