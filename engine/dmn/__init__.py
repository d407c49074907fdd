"""DMN: load .dmn models (1.1-1.5) into kade's rule model, evaluate them the way a
decision service does, export rule workbooks as DMN, and run the DMN TCK."""
