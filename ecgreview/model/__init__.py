"""The predict stage: the Ribeiro et al. 2020 DNN and everything that serves it.

- :mod:`~ecgreview.model.network`: the architecture (Keras 3), the Keras 2.2.4 HDF5 weight
  loader, the TensorFlow backend and :func:`~ecgreview.model.serving.load_inference_model`,
  which picks a backend behind the one :class:`~ecgreview.model.inference.InferenceModel` protocol (:mod:`~ecgreview.model.serving` picks one);
- :mod:`~ecgreview.model.onnx_backend`: the ONNX Runtime backend (conversion cached beside the weights);
- :mod:`~ecgreview.model.weights`: installing and verifying the released weights;
- :mod:`~ecgreview.model.provenance`: what produced a prediction;
- :mod:`~ecgreview.model.batch`: batch scoring of folders of ECGs (local or Dask).

TensorFlow is imported lazily, in :mod:`~ecgreview.model.network` only.
"""
