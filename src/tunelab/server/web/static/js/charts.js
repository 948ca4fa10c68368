// (charts: being written)
