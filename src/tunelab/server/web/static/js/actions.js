// (actions: being written)
