// (table: being written)
