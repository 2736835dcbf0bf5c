# Every method (a module in methods/) x every point of its hyperparameter grid x every forget set x every
# replicate seed, plus models unlearned elsewhere ("external"). A run that fails is recorded, not fatal.
# An unlearning job also evaluates its model (the one forward pass per split of evaluate.smk), in the
# same process: each run then pays the interpreter start, the imports and the data loading once.


rule unlearn:
    input:
        unpack(reference_grams),
        data=DATA_MANIFEST,
        base=original_model,
        method_module=lambda wc: RUNS[f"{wc.sf}/{wc.method}/{wc.key}"].module_path,
    output:
        **eval_outputs("{sf}/{method}/{key}"),
        model=f"{RESULTS}/models/{{sf}}/{{method}}/{{key}}/model.pt",
        info=f"{RESULTS}/models/{{sf}}/{{method}}/{{key}}/info.json",
    log:
        job_log("unlearn", "{sf}/{method}/{key}"),
    benchmark:
        job_benchmark("unlearn", "{sf}/{method}/{key}")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        gpu=1,
    params:
        spec=unlearn_spec,
        references=reference_grams_json,
    shell:
        "python -m unlearning_comparator unlearn --spec {params.spec:q} --threads {threads}"
        " --base {input.base:q} --model {output.model:q} --info {output.info:q}"
        " --logits {output.logits:q} --features {output.features:q} --similarity {output.similarity:q}"
        " --summary {output.summary:q} --reference-grams {params.references:q} > {log:q} 2>&1"


rule import_external:
    input:
        # the job reads no data, but waits for it: a missing data set then stops the run before any job
        data=DATA_MANIFEST,
        checkpoint=lambda wc: EXTERNAL[wc.name]["checkpoint"],
    output:
        model=f"{RESULTS}/models/{{sf}}/external/{{name}}/model.pt",
        info=f"{RESULTS}/models/{{sf}}/external/{{name}}/info.json",
    log:
        job_log("import_external", "{sf}/{name}"),
    conda:
        CONDA_ENV
    params:
        spec=lambda wc: spec(
            forget_set=SET_FOLDERS[wc.sf][1].to_json(), external=EXTERNAL[wc.name], external_name=wc.name
        ),
    shell:
        "python -m unlearning_comparator import-checkpoint --spec {params.spec:q}"
        " --checkpoint {input.checkpoint:q} --model {output.model:q} --info {output.info:q} > {log:q} 2>&1"
