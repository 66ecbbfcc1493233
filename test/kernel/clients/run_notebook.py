"""Executes a notebook with nbclient (Debian python3-nbclient) and writes the result."""
import os, sys
import nbformat
from nbclient import NotebookClient

src, dst, name = sys.argv[1], sys.argv[2], sys.argv[3]
nb = nbformat.read(src, as_version=4)
NotebookClient(nb, kernel_name=name, timeout=120, resources={'metadata': {'path': os.getcwd()}}).execute()
nbformat.write(nb, dst)
