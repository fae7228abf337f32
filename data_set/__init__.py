"""The MNIST files and their reader, input_data, which stands in for TensorFlow 1's."""
