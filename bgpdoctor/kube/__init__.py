"""Kubernetes awareness: read the cluster's BGP intent (Cilium, Calico, MetalLB) and turn it into facts.

Layout: ``config`` opens an API client (kubeconfig, contexts, in-cluster), ``reader`` fetches raw
objects, ``view`` parses them into the typed ``ClusterView``, ``derive`` computes per-node BGP
facts and findings, ``cluster_intent`` compares the cluster with itself (``cilium_agent``: the
agent's capabilities, ``ipam``: what a node may announce, ``metallb``: MetalLB's speakers),
``podexec`` runs read-only commands in agent pods, ``discover`` writes an inventory. The
``kubernetes`` package is imported lazily, inside the functions that use it.
"""
