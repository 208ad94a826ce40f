rule model:
    input:
        local_files=local_model_files,
        library=library("prepare_model.py"),
    output:
        directory("resources/models/{model}"),
    params:
        source=lambda wildcards: config["model_sources"][wildcards.model],
        wheel_dir=WHEEL_DIR,
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/model/{model}.log",
    # Dequantizing GGUF and saving safetensors is single-threaded: both models prepare at once.
    threads: 1
    resources:
        **model_job(),
    script:
        "../../scripts/prepare_model.py"


rule models_all:
    input:
        expand("resources/models/{model}", model=MODELS),
