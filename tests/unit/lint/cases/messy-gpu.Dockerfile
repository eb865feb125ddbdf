# A GPU CI image with the mistakes ML Dockerfiles often make (written for the tests).
FROM nvidia/cuda:12.6.3-cudnn-devel-ubuntu22.04
ARG HF_TOKEN
ARG REF=main
ENV LD_LIBRARY_PATH=/usr/local/cuda/lib64:$LD_LIBRARY_PATH \
    TOKENIZERS_PARALLELISM=false
RUN apt-get update && apt-get install -y git curl
RUN curl -LsSf https://astral.sh/uv/install.sh | sh
RUN git clone https://github.com/huggingface/transformers && cd transformers && git checkout $REF
RUN pip install torch==2.8.0 torchvision --extra-index-url https://download.pytorch.org/whl/cu128
RUN pip install -e ./transformers[dev] "git+https://github.com/huggingface/accelerate@main" numpy<2
RUN MAX_JOBS=$(nproc) pip install flash-attn --no-build-isolation
RUN python -c "from transformers import AutoTokenizer; AutoTokenizer.from_pretrained('bert-base-uncased')"
RUN rm -rf /var/lib/apt/lists/* transformers
