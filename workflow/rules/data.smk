# The fixed evaluation subset every model is measured on, and its thumbnails for the site.


rule subsets:
    output:
        subset=f"{RESULTS}/tables/subset.arrow",
        thumbnails=f"{RESULTS}/tables/thumbnails.png",
    log:
        job_log("subsets", "subsets"),
    benchmark:
        job_benchmark("subsets", "subsets")
    params:
        spec=lambda wc: spec(analysis={"subset_per_class": config["analysis"]["subset_per_class"], "cka": config["analysis"]["cka"]}),
    shell:
        "{PYTHON} -m unlearning_comparator subsets --spec {params.spec:q}"
        " --subset {output.subset:q} --thumbnails {output.thumbnails:q} > {log:q} 2>&1"
