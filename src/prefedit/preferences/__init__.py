"""Preferences: types, loaders, statement parsing, templates, clusters, embeddings and facets.

Example::

    from prefedit.preferences import Embedder, build_cluster, load_preferences

    prefs = load_preferences("prefs.txt", user_id="alice")   # "I'm allergic to shellfish" ...
    cluster = build_cluster(prefs[0], builders=("given", "templates"), embedder=Embedder())
"""

from prefedit.preferences.clusters import (
    CLUSTER_BUILDERS,
    BuildContext,
    ClusterBuilder,
    ClusterConfig,
    accepted_targets,
    build_cluster,
    build_clusters,
    builder_names,
    filter_cluster,
    merge_clusters,
    register_cluster_builder,
)
from prefedit.preferences.embed import Embedder
from prefedit.preferences.facets import DEFAULT_FACET_THRESHOLD, facet_groups
from prefedit.preferences.loaders import AskModel, load_multiturn, load_preferences
from prefedit.preferences.parse import parse_statement
from prefedit.preferences.templates import FamilyTemplates, TemplateBank, family_for, load_template_bank
from prefedit.preferences.types import QUERY_TYPES, Cluster, MultiTurnItem, Preference

__all__ = [
    "CLUSTER_BUILDERS",
    "DEFAULT_FACET_THRESHOLD",
    "QUERY_TYPES",
    "AskModel",
    "BuildContext",
    "Cluster",
    "ClusterBuilder",
    "ClusterConfig",
    "Embedder",
    "FamilyTemplates",
    "MultiTurnItem",
    "Preference",
    "TemplateBank",
    "accepted_targets",
    "build_cluster",
    "build_clusters",
    "builder_names",
    "facet_groups",
    "family_for",
    "filter_cluster",
    "load_multiturn",
    "load_preferences",
    "load_template_bank",
    "merge_clusters",
    "parse_statement",
    "register_cluster_builder",
]
