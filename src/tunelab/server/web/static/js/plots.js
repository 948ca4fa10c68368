// (plots: being written)
