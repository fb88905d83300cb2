"""The best-practice library: speakers' slides, documents and links, approved by organisers, published with every
talk's abstract, speakers, organisation, sector and theme."""
