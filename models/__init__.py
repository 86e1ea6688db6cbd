"""The ML package: data, training, the model registry and the classifiers."""
