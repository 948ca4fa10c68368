// (compare: being written)
