"""Semi-supervised federated speech emotion recognition (Semi-FedSER, Feng & Narayanan,
Interspeech 2022): the maths as small pure modules, used by the ``semi_ser`` task.

- :mod:`~raysim.ser.masks` — which labels a client may use (label rate, labelled clients),
- :mod:`~raysim.ser.standardize` — per-client (and per-speaker) standardisation,
- :mod:`~raysim.ser.sfa` — stochastic feature augmentation (weak / strong),
- :mod:`~raysim.ser.pseudo_labels` — multiview and single-view pseudo-label selection.
"""
