# The Unlearning Comparator workflow: an index of the stages (the rules live in workflow/rules/).
#
#   snakemake --cores all                          # the embedded default experiment (config/config.yaml)
#   snakemake --cores all --configfile config/cifar10-resnet18.yaml
#
# Data flows one way: data -> original model (per replicate seed) -> retrained model per forget set (and
# seed) -> unlearning runs -> one evaluation pass per model -> per-forget-set analyses (and, opt-in, privacy
# audits) -> tables -> site.

from snakemake.utils import min_version

min_version("9.0")


# --configfile FILE replaces the embedded default (rather than being merged into it); --config KEY=VALUE
# alone overrides single keys of the default.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/unlearn.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/analyze.smk"
include: "workflow/rules/audit.smk"
include: "workflow/rules/site.smk"


rule all:
    default_target: True
    input:
        tables=expand(f"{RESULTS}/tables/{{table}}.arrow", table=OUTPUT_TABLES),
        site=f"{RESULTS}/site/index.html",
