"""The inputs: datasets (Fashion-MNIST, CIFAR-100, ImageFolder/ILSVRC2012), their tensor caches
or streamed indexes, and the class splits into halves A and B (lists/: the authors' split lists)."""
