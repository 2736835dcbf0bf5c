# Getting the data is one rule. `data` makes sure the configured data set is on disk (found under
# data.root or, for Fashion-MNIST, in Debian's package; else downloaded where data.download allows) and
# writes a manifest of it: where it came from, each file's size and SHA-256, the image counts. Every rule
# whose job reads data takes the manifest as an input, so this rule runs first, once, and no other job
# downloads. It is local: on a cluster it runs on the submitting host, since compute nodes often lack
# internet. Then: the fixed evaluation subset every model is measured on, and its thumbnails for the site.


localrules:
    data,


check_data_unchanged()


rule data:
    output:
        manifest=DATA_MANIFEST,
    log:
        job_log("data", "data"),
    benchmark:
        job_benchmark("data", "data")
    conda:
        CONDA_ENV
    resources:
        # whether the job may download is how the data are got, not what they are: a resource rather than
        # a parameter, so that switching it reruns nothing (the manifest records where the data came from)
        download="yes" if config["data"]["download"] else "no",
    params:
        spec=lambda wc: json.dumps({"dataset": config["dataset"], "data": job_data_config()}, sort_keys=True),
    shell:
        # on failure the log (where the files must go, how to fetch them) is the message: show it
        "python -m unlearning_comparator data --spec {params.spec:q} --download {resources.download}"
        " --manifest {output.manifest:q} > {log:q} 2>&1 || {{ cat {log:q} >&2; exit 1; }}"


rule subsets:
    input:
        data=DATA_MANIFEST,
    output:
        subset=f"{RESULTS}/tables/subset.arrow",
        thumbnails=f"{RESULTS}/tables/thumbnails.png",
    log:
        job_log("subsets", "subsets"),
    benchmark:
        job_benchmark("subsets", "subsets")
    conda:
        CONDA_ENV
    params:
        spec=lambda wc: spec(
            analysis={
                "subset_per_class": config["analysis"]["subset_per_class"],
                "cka": config["analysis"]["cka"],
            },
            # drawn here too, so that an impossible validation split stops the run before any training
            selection=config["selection"],
        ),
    shell:
        "python -m unlearning_comparator subsets --spec {params.spec:q}"
        " --subset {output.subset:q} --thumbnails {output.thumbnails:q} > {log:q} 2>&1"
