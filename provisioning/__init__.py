"""Tag lifecycle, registry, quota, batches and reports. Knows no reader hardware: it uses
only the public tag interface of ``drivers``."""
