"""The four MNIST files, and the code the lesson leans on (data_set/README.md says more):

- input_data.py: the MNIST reader, in place of TensorFlow 1's removed
  tensorflow.examples.tutorials.mnist.input_data;
- download.py: fetches a missing data file from mirrors;
- digit_image.py: prepares a picture of your own digit as MNIST's were (--predict);
- summary_pictures.py: lesson 3's pictures in TensorBoard (--logdir);
- safety_net.py: not about data: what keeps a run of train.py safe wherever it is started,
  here because the project's top level is fixed and train.py must stay the lesson.

This file is also the first code of the project that any Python runs (train.py's first import
is from here), so it checks the Python's version in a syntax that even Python 2.7 reads: an
older Python would otherwise stop on the newer syntax of the files after it with a traceback.
"""
import sys

if sys.version_info < (3, 10):
    sys.stderr.write(
        "error: this is Python %s (%s); this project needs Python 3.10 to 3.13: run it with python3, "
        "or install Python 3.13 as README.md says\n" % (sys.version.split()[0], sys.executable)
    )
    sys.exit(1)
