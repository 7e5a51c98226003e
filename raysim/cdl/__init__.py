"""Collaborative deep learning (Kim, ICASSP 2017) on federated specialists.

Several small specialist denoisers are trained, each on one kind of corruption (one
noise class, one SNR band, or one cluster of clients' statistics); an autoencoder
trained on clean speech magnitude spectra only (the *moderator*) scores each
specialist's output on a test mixture by its reconstruction error, and the output it
reconstructs best is kept. In raysim a specialist is the federation of the clients
that share a condition (`raysim.cdl.bank`, one `raysim.Simulation` per group).

Modules: `config` (the validated experiment config, torch-free), `data` (the
mixtures, the groups, per-group federations), `moderator` (the autoencoder, the
selection rule, the classifier-gating baseline), `bank` (the specialists and the
generalist, trained side by side on Ray), `evaluate` (scores per test mixture),
`report` (table, bar plot, confusion matrix) and `run` (one seed, end to end).
"""
