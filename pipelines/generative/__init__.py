"""Generative models: the GAN stage and the Frechet distance that scores it."""
