// (experiment: being written)
