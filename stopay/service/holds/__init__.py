"""The life of holds: the steps officers and the sweeper take, each one transaction on the store."""
