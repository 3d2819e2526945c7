"""Link prediction on the warehouse graph (export, splits, KGE/GCN/baselines, evaluation, write-back)."""
