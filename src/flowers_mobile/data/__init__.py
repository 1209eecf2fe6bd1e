"""The data layer: sources (folders, Oxford 102, Flowers-17), synthetic flowers, checks, tf.data."""
