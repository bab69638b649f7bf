"""The exercise checks' messages for exercises 3-5 (training loop, auxiliary classifiers, ablation): see messages.py."""

TRAINING_MESSAGES: dict[str, dict[str, str]] = {
    # ------------------------------------------------------------------ exercise 3: the loop
    "train.not_pair": {"en": "train returned {result!r}", "zh": "train 返回的是 {result!r}"},
    "train.not_pair.hint": {
        "en": "return a pair: (accuracy, mean_loss)",
        "zh": "返回一对值：(accuracy, mean_loss)"},
    "train.accuracy": {"en": "the accuracy", "zh": "准确率"},
    "train.mean_loss": {"en": "the mean loss", "zh": "平均损失"},
    "train.eval_mode": {
        "en": "after train() the model is still in eval mode",
        "zh": "调用 train() 之后，模型仍处于评估模式"},
    "train.eval_mode.hint": {
        "en": "call model.train() first: a model arrives in eval mode after test(), and BatchNorm and dropout then "
              "behave as in evaluation",
        "zh": "先调用 model.train()：test() 之后模型处于评估模式，BatchNorm 和 dropout 的行为都和评估时一样"},
    "train.unchanged": {"en": "the weights did not change", "zh": "权重没有变化"},
    "train.unchanged.hint": {
        "en": "call loss.backward() and optimizer.step() for every batch",
        "zh": "对每个批次都调用 loss.backward() 和 optimizer.step()"},
    "train.piled": {
        "en": "the weights differ from the reference loop's: gradients pile up from batch to batch",
        "zh": "权重与参考循环的不同：梯度在批次之间不断累加"},
    "train.piled.hint": {
        "en": "call optimizer.zero_grad() before loss.backward() in every step",
        "zh": "每一步都在 loss.backward() 之前调用 optimizer.zero_grad()"},
    "train.weights": {
        "en": "the weights after one pass differ from the reference loop's",
        "zh": "训练一遍之后，权重与参考循环的不同"},
    "train.weights.hint": {
        "en": "per batch: pred = model(X); loss = loss_fn(pred, y); optimizer.zero_grad(); loss.backward(); "
              "optimizer.step() — once each, in this order",
        "zh": "每个批次：pred = model(X); loss = loss_fn(pred, y); optimizer.zero_grad(); loss.backward(); "
              "optimizer.step()——每个调用一次，按这个顺序"},
    "train.swapped": {"en": "accuracy and loss are swapped", "zh": "准确率和损失的位置颠倒了"},
    "train.swapped.hint": {
        "en": "the post returns the accuracy first: return correct, mean_loss",
        "zh": "博客先返回准确率：return correct, mean_loss"},
    "train.acc_batches": {
        "en": "you divided by the number of batches: divide the correct count by the number of images, "
              "len(dataloader.dataset)",
        "zh": "你除以的是批次数：应该用正确个数除以图片数，即 len(dataloader.dataset)"},
    "train.acc_fraction": {
        "en": "return a fraction: divide the correct count by the number of images",
        "zh": "返回一个比例：用正确个数除以图片数"},
    "train.acc_count": {
        "en": "count (pred.argmax(1) == y).sum() per batch, using the predictions of the forward pass, and divide by "
              "len(dataloader.dataset)",
        "zh": "每个批次用前向传播的预测统计 (pred.argmax(1) == y).sum()，最后除以 len(dataloader.dataset)"},
    "train.acc_wrong": {
        "en": "accuracy {accuracy:.4f} is wrong: the model got {correct} of {images} images right",
        "zh": "准确率 {accuracy:.4f} 不对：模型在 {images} 张图片中分对了 {correct} 张"},
    "train.loss_sum": {
        "en": "that is the sum: divide by the number of batches, len(dataloader)",
        "zh": "这是总和：还要除以批次数 len(dataloader)"},
    "train.loss_weighted": {
        "en": "the post averages per batch: sum of loss.item() / len(dataloader)",
        "zh": "博客按批次取平均：loss.item() 之和 / len(dataloader)"},
    "train.loss_last": {
        "en": "that is the last batch's loss: add up every batch's loss.item()",
        "zh": "这是最后一个批次的损失：要把每个批次的 loss.item() 都加起来"},
    "train.loss_default": {
        "en": "add loss.item() of each batch and divide by len(dataloader)",
        "zh": "把每个批次的 loss.item() 加起来，再除以 len(dataloader)"},
    "train.loss_wrong": {"en": "mean loss {loss:.4f} is wrong", "zh": "平均损失 {loss:.4f} 不对"},
    "train.ok": {
        "en": "train() matches the reference loop: same weights, accuracy and mean batch loss",
        "zh": "train() 与参考循环一致：权重、准确率和按批次平均的损失都相同"},
    "run.history_shape": {
        "en": "train should return one (accuracy, mean_loss) pair per pass; the grader's passes got {history!r}",
        "zh": "train 每遍训练应该返回一对 (accuracy, mean_loss)；评分程序的几遍训练得到的却是 {history!r}"},
    "run.history_shape.hint": {
        "en": "end train with: return correct / len(dataloader.dataset), total_loss / len(dataloader)",
        "zh": "train 的最后一行：return correct / len(dataloader.dataset), total_loss / len(dataloader)"},
    "run.history_accuracy": {"en": "the accuracy train returned in pass {index}",
                             "zh": "第 {index} 遍 train 返回的准确率"},
    "run.history_loss": {"en": "the loss train returned in pass {index}", "zh": "第 {index} 遍 train 返回的损失"},
    "run.accuracy_range": {
        "en": "train returned an accuracy outside [0, 1]: {passes}",
        "zh": "train 返回了超出 [0, 1] 的准确率：{passes}"},
    "run.accuracy_range.hint": {
        "en": "train returns a fraction: correct / images",
        "zh": "train 返回的是比例：正确个数 / 图片数"},
    "run.steps": {
        "en": "the grader's network ran {steps} batches in training mode, but {passes} passes over its {batches} "
              "batches make {total}",
        "zh": "评分程序的网络在训练模式下跑了 {steps} 个批次，而在它的 "
              "{batches} 个批次上训练 {passes} 遍应该是 {total} 个"},
    "run.steps.hint": {
        "en": "one forward pass in training mode per batch of the dataloader you are given (model.train(), then "
              "model(X)), and no other data",
        "zh": "对传入的 dataloader 的每个批次在训练模式下做一次前向传播（先 model.train()，再 model(X)），"
              "不用别的数据"},
    "run.no_fall": {
        "en": "the mean training loss did not fall by a tenth: {first:.3f} in pass 1, {last:.3f} in pass {passes}",
        "zh": "平均训练损失没有下降十分之一：第 1 遍为 {first:.3f}，第 {passes} 遍为 {last:.3f}"},
    "run.no_fall.hint": {
        "en": "the weights must move against the gradient in every step: optimizer.zero_grad(), loss.backward(), "
              "optimizer.step()",
        "zh": "每一步权重都必须沿梯度的反方向移动：optimizer.zero_grad()、loss.backward()、optimizer.step()"},
    "run.chance": {
        "en": "trained with your loop, the grader's network gets {accuracy:.1%} of its {images:,} test examples "
              "right; chance is {chance:.0%}, and this run should reach at least twice that",
        "zh": "用你的循环训练后，评分程序的网络在它的 {images:,} 个测试样本上只分对了 {accuracy:.1%}；"
              "随机猜测是 {chance:.0%}，这次训练至少应达到它的两倍"},
    "run.chance.hint": {
        "en": "check_train_loop above must pass first: the same loop, with the weights moving in every step",
        "zh": "先让上面的 check_train_loop 通过：同一个循环，每一步都要更新权重"},
    "run.ok": {
        "en": "your loop trained the grader's network: mean training loss {first:.3f} -> {last:.3f} over {passes} "
              "passes, accuracy {accuracy:.1%} on the grader's test split (chance {chance:.0%})",
        "zh": "你的循环训练了评分程序的网络：{passes} 遍训练中平均训练损失 {first:.3f} -> {last:.3f}，"
              "在评分程序自己的测试集上准确率 {accuracy:.1%}（随机猜测 {chance:.0%}）"},
    # ------------------------------------------------------------------ exercise 4: auxiliary classifiers
    "head.not_module": {
        "en": "AuxHead(24, 7) returned {type_name}, not an nn.Module",
        "zh": "AuxHead(24, 7) 返回的是 {type_name}，不是 nn.Module"},
    "head.fc1_input": {
        "en": "fc1 reads the 128 x 4 x 4 = 2048 values left after the "
        "5x5 average pool with stride 3 (14 x 14 -> 4 x 4)",
        "zh": "fc1 读取的是步幅为 3 的 5x5 平均池化之后剩下的 128 x 4 x 4 = 2048 个值（14 x 14 -> 4 x 4）"},
    "head.no_batchnorm": {"en": "the paper's head has no BatchNorm", "zh": "论文中的辅助分类器没有 BatchNorm"},
    "head.layers": {
        "en": "1x1 conv in_channels -> 128 (with bias), Linear(2048, 1024), Linear(1024, num_classes)",
        "zh": "1x1 卷积 in_channels -> 128（带偏置），Linear(2048, 1024)，Linear(1024, num_classes)"},
    "head.shapes": {
        "en": "AuxHead(24, 7) has parameters of shapes {shapes}; the paper's head has {want}",
        "zh": "AuxHead(24, 7) 的参数形状是 {shapes}；论文中的辅助分类器是 {want}"},
    "head.forward": {"en": "AuxHead's forward", "zh": "AuxHead 的 forward"},
    "head.out_shape": {
        "en": "for a 3 x 24 x 14 x 14 input AuxHead returned {got}, expected (3, 7)",
        "zh": "输入为 3 x 24 x 14 x 14 时，AuxHead 返回的是 {got}，应该是 (3, 7)"},
    "head.out_shape.hint": {
        "en": "flatten after the conv (torch.flatten(x, 1)) and end with Linear(1024, num_classes)",
        "zh": "在卷积之后展平（torch.flatten(x, 1)），最后一层是 Linear(1024, num_classes)"},
    "head.eval_random": {
        "en": "the head gives different outputs for the same input in eval mode",
        "zh": "在评估模式下，同一个输入得到了不同的输出"},
    "head.eval_random.hint": {
        "en": "use nn.Dropout (a module), so model.eval() switches dropout off",
        "zh": "使用 nn.Dropout 这个模块，这样 model.eval() 才能关掉 dropout"},
    "head.slip_maxpool": {
        "en": "a max pool where the paper averages: use nn.AvgPool2d(5, stride=3)",
        "zh": "论文用的是平均池化，你用了最大池化：请用 nn.AvgPool2d(5, stride=3)"},
    "head.slip_relu_conv": {"en": "the ReLU after the 1x1 conv is missing", "zh": "1x1 卷积之后缺了 ReLU"},
    "head.slip_relu_fc": {"en": "the ReLU after fc1 is missing", "zh": "fc1 之后缺了 ReLU"},
    "head.differs": {
        "en": "the head's output differs from the paper's head with the same weights",
        "zh": "权重相同时，辅助分类器的输出与论文中的不同"},
    "head.differs.hint": {
        "en": "pool 5x5/3 (average) -> 1x1 conv + ReLU -> flatten -> fc1 + ReLU -> dropout -> fc2",
        "zh": "池化 5x5/3（平均）-> 1x1 卷积 + ReLU -> 展平 -> fc1 + ReLU -> dropout -> fc2"},
    "head.no_fc2": {
        "en": "the head has no nn.Linear(1024, num_classes)",
        "zh": "辅助分类器里没有 nn.Linear(1024, num_classes)"},
    "head.no_fc2.hint": {"en": "make fc2 an nn.Linear layer", "zh": "让 fc2 是一个 nn.Linear 层"},
    "head.no_dropout": {
        "en": "no dropout acts on fc1's output in training mode",
        "zh": "训练模式下，fc1 的输出上没有 dropout 起作用"},
    "head.no_dropout.hint": {
        "en": "add nn.Dropout(0.7) between fc1's ReLU and fc2",
        "zh": "在 fc1 的 ReLU 和 fc2 之间加上 nn.Dropout(0.7)"},
    "head.dropout_place": {
        "en": "in training mode fc2 sees different values than a dropout right before it would give",
        "zh": "训练模式下，fc2 收到的值与紧挨在它前面的 dropout 应给出的值不同"},
    "head.dropout_place.hint": {
        "en": "apply the dropout to fc1's output (after its ReLU), right before fc2",
        "zh": "把 dropout 作用在 fc1 的输出上（在它的 ReLU 之后），紧挨着 fc2"},
    "head.dropout_rate": {
        "en": "the dropout drops {rate:.0%} of fc1's outputs",
        "zh": "dropout 丢弃了 fc1 输出的 {rate:.0%}"},
    "head.dropout_rate.hint": {
        "en": "the paper uses a 70% ratio: nn.Dropout(0.7)",
        "zh": "论文用的丢弃率是 70%：nn.Dropout(0.7)"},
    "head.ok": {
        "en": "AuxHead matches the paper's head: {params:,} parameters for 24 channels and 7 classes, dropout 0.7",
        "zh": "AuxHead 与论文中的辅助分类器一致：24 个通道、7 个类别时有 {params:,} 个参数，dropout 0.7"},
    "loss.not_tensor": {
        "en": "total_loss returned {type_name}, not a one-number tensor",
        "zh": "total_loss 返回的是 {type_name}，不是只含一个数的张量"},
    "loss.not_tensor.hint": {
        "en": "return the loss tensor itself (no .item()), so that loss.backward() works",
        "zh": "直接返回损失张量本身（不要 .item()），这样 loss.backward() 才能工作"},
    "loss.detached": {"en": "the returned loss is detached from the graph", "zh": "返回的损失已经从计算图上分离了"},
    "loss.detached.hint": {
        "en": "do not call .item(), .detach() or float() on it",
        "zh": "不要对它调用 .item()、.detach() 或 float()"},
    "loss.no_aux": {"en": "the auxiliary losses are missing", "zh": "缺了辅助分类器的损失"},
    "loss.only_aux1": {"en": "only aux1's loss is added", "zh": "只加上了 aux1 的损失"},
    "loss.only_aux2": {"en": "only aux2's loss is added", "zh": "只加上了 aux2 的损失"},
    "loss.weight_main": {
        "en": "the 0.3 weights the main loss instead of the auxiliary ones",
        "zh": "0.3 的权重加在了主损失上，而不是辅助损失上"},
    "loss.order": {
        "en": "InceptionOutputs is (logits, aux2, aux1): the main logits come first",
        "zh": "InceptionOutputs 的顺序是 (logits, aux2, aux1)：主 logits 在最前面"},
    "loss.weight": {
        "en": "the auxiliary losses are weighted by {weight:.2f}",
        "zh": "辅助损失的权重是 {weight:.2f}"},
    "loss.wrong": {
        "en": "total_loss gave {got:.4f}, expected {want:.4f}",
        "zh": "total_loss 得到 {got:.4f}，应该是 {want:.4f}"},
    "loss.wrong.hint": {
        "en": "loss_fn(logits, target) + 0.3 * (loss_fn(aux1, target) + loss_fn(aux2, target)), as in the paper",
        "zh": "按论文：loss_fn(logits, target) + 0.3 * (loss_fn(aux1, target) + loss_fn(aux2, target))"},
    "loss.plain": {
        "en": "for a plain logits tensor total_loss should return loss_fn(logits, target)",
        "zh": "对普通的 logits 张量，total_loss 应该返回 loss_fn(logits, target)"},
    "loss.plain.hint": {
        "en": "in eval mode the model returns only the logits: check isinstance(outputs, torch.Tensor) first",
        "zh": "评估模式下模型只返回 logits：先判断 isinstance(outputs, torch.Tensor)"},
    "loss.ok": {
        "en": "total_loss = main + 0.3 x (aux1 + aux2), and a plain logits tensor gives the main loss",
        "zh": "total_loss = 主损失 + 0.3 x (aux1 + aux2)，普通的 logits 张量则给出主损失"},
    "step.return": {"en": "train_step's return value", "zh": "train_step 的返回值"},
    "step.heads_frozen": {"en": "the auxiliary heads did not learn", "zh": "辅助分类器没有学习"},
    "step.heads_frozen.hint": {
        "en": "in eval mode the model returns only the main logits, so the aux losses are never computed: call "
              "model.train() before the forward pass",
        "zh": "评估模式下模型只返回主 logits，辅助损失根本不会被计算：在前向传播之前调用 model.train()"},
    "step.weights": {
        "en": "the weights after two steps differ from the reference",
        "zh": "两步之后，权重与参考实现的不同"},
    "step.weights.hint": {
        "en": "per step: model.train(); loss = total_loss(model(images), labels, loss_fn); optimizer.zero_grad(); "
              "loss.backward(); optimizer.step()",
        "zh": "每一步：model.train(); loss = total_loss(model(images), labels, loss_fn); optimizer.zero_grad(); "
              "loss.backward(); optimizer.step()"},
    "step.returned": {
        "en": "train_step returned {got:.4f}, the step's total loss is {want:.4f}",
        "zh": "train_step 返回了 {got:.4f}，而这一步的总损失是 {want:.4f}"},
    "step.returned.hint": {"en": "return loss.item()", "zh": "返回 loss.item()"},
    "step.ok": {
        "en": "train_step trains the main classifier and both auxiliary heads with the 0.3-weighted loss",
        "zh": "train_step 用 0.3 加权的损失同时训练了主分类器和两个辅助分类器"},
    # ------------------------------------------------------------------ exercise 5: ablation
    "naive.not_model": {
        "en": "naive_googlenet returned {type_name}",
        "zh": "naive_googlenet 返回的是 {type_name}"},
    "naive.not_model.hint": {
        "en": "start from InceptionV1(...) and return it",
        "zh": "从 InceptionV1(...) 出发，并把它返回"},
    "naive.hint_start": {
        "en": "start from InceptionV1(num_classes=num_classes, in_channels=in_channels, stem_batchnorm=True)",
        "zh": "从 InceptionV1(num_classes=num_classes, in_channels=in_channels, stem_batchnorm=True) 出发"},
    "naive.hint_replace": {
        "en": "replace it with InceptionBlock(*INCEPTION_TABLE[name], reductions=False)",
        "zh": "把它换成 InceptionBlock(*INCEPTION_TABLE[name], reductions=False)"},
    "naive.hint_5b": {
        "en": "in the seed preset inception5b is nn.Sequential(block, pool, dropout): set model.inception5b[0]",
        "zh": "在 seed 预设中 inception5b 是 nn.Sequential(block, pool, dropout)：要设置的是 model.inception5b[0]"},
    "naive.still_reduced": {"en": " (it still has its 1x1 reductions)", "zh": "（它仍带着 1x1 卷积降维）"},
    "naive.params": {
        "en": "{name} has {count:,} parameters{state}, expected {want:,}",
        "zh": "{name} 有 {count:,} 个参数{state}，应该是 {want:,} 个"},
    "naive.fails": {
        "en": "the model fails on a 1 x 1 x 64 x 64 image ({error})",
        "zh": "模型在 1 x 1 x 64 x 64 的图片上出错（{error}）"},
    "naive.fails.hint": {
        "en": "keep inception5b's average pool and dropout: replace only the block inside it, model.inception5b[0]",
        "zh": "保留 inception5b 的平均池化和 dropout：只替换其中的模块 model.inception5b[0]"},
    "naive.ok": {
        "en": "naive_googlenet: all nine blocks without 1x1 reductions, {params:,} parameters for 7 classes",
        "zh": "naive_googlenet：九个模块都去掉了 1x1 卷积降维，7 个类别时有 {params:,} 个参数"},
    "ablation.result_shape": {
        "en": "result[{key!r}] should map 'with_reductions' and 'naive' to numbers, got {part!r}",
        "zh": "result[{key!r}] 应该把 'with_reductions' 和 'naive' 映射到数值，得到的却是 {part!r}"},
    "ablation.result_shape.hint": {
        "en": "run the cells above (cost and training) first, then build result again",
        "zh": "先运行上面的单元格（开销和训练），再重新构建 result"},
    "ablation.accuracy_range": {
        "en": "accuracy {value} is outside [0, 1]",
        "zh": "准确率 {value} 超出了 [0, 1]"},
    "ablation.accuracy_range.hint": {
        "en": "give accuracy as a fraction (0.81, not 81): history.last.test_acc is one",
        "zh": "准确率用比例表示（写 0.81，不是 81）：history.last.test_acc 就是比例"},
    "ablation.swapped": {
        "en": "result[{key!r}] has the two variants swapped",
        "zh": "result[{key!r}] 中两个变体的位置颠倒了"},
    "ablation.swapped.hint": {
        "en": "'naive' is the model without 1x1 reductions",
        "zh": "'naive' 是不带 1x1 卷积降维的模型"},
    "ablation.cost": {
        "en": "result[{key!r}] = {got} does not match the models",
        "zh": "result[{key!r}] = {got} 与模型对不上"},
    "ablation.cost.hint": {
        "en": "measure each model with module_cost(model, (1, 1, 32, 32)): one 1-channel 32 x 32 image, the size "
              "the models train on",
        "zh": "用 module_cost(model, (1, 1, 32, 32)) 测量每个模型：一张单通道 32 x 32 的图片，即模型训练时的尺寸"},
    "ablation.models": {
        "en": "models should map 'with_reductions' and 'naive' to the trained networks, got {models!r}",
        "zh": "models 应该把 'with_reductions' 和 'naive' 映射到训练好的网络，得到的却是 {models!r}"},
    "ablation.models.hint": {
        "en": "pass the models dict the notebook built and trained",
        "zh": "传入本笔记本构建并训练的那个 models 字典"},
    "ablation.model": {
        "en": "models[{variant!r}] is not the {variant} network of {params:,} parameters",
        "zh": "models[{variant!r}] 不是那个有 {params:,} 个参数的 {variant} 网络"},
    "ablation.untrained": {
        "en": "models[{variant!r}] has not been trained",
        "zh": "models[{variant!r}] 还没有训练"},
    "ablation.untrained.hint": {
        "en": "run the training cell (fit) before building result",
        "zh": "先运行训练单元格（fit），再构建 result"},
    "ablation.images": {
        "en": "result['images_seen'][{variant!r}] = {seen:,.0f}, but models[{variant!r}] took {steps} training "
              "steps of {batch} images",
        "zh": "result['images_seen'][{variant!r}] = {seen:,.0f}，但 "
              "models[{variant!r}] 只训练了 {steps} 步，每步 {batch} 张图片"},
    "ablation.images.hint": {
        "en": "record history.images_seen of this model's own run (after running the notebook again from the top "
              "if you changed a cell above)",
        "zh": "记下这个模型自己那次训练的 history.images_seen（如果改过上面的单元格，先从头重新运行本笔记本）"},
    "ablation.own_split": {
        "en": "models[{variant!r}] scores {claimed:.1%} on data.test but {own:.1%} on {images:,} test images the "
              "grader picked itself",
        "zh": "models[{variant!r}] 在 data.test 上的准确率是 {claimed:.1%}，在评分程序自己挑的 {images:,} 张测试图片上"
              "却是 {own:.1%}"},
    "ablation.own_split.hint": {
        "en": "train on data.train only, with fit; a model that learned data.test itself does not generalise",
        "zh": "只用 fit 在 data.train 上训练；记住了 data.test 本身的模型无法推广到别的图片"},
    "ablation.not_inception": {
        "en": "models[{variant!r}] is a {type_name} (or has its own forward), not the InceptionV1 the notebook built",
        "zh": "models[{variant!r}] 是 {type_name}（或者换了 forward），不是 notebook 搭建的 InceptionV1"},
    "ablation.accuracy": {
        "en": "result['accuracy'][{variant!r}] = {claimed:.4f}, but models[{variant!r}] gets {recomputed:.4f} of the "
              "{images:,} test images right",
        "zh": "result['accuracy'][{variant!r}] = {claimed:.4f}，但 models[{variant!r}] 在 {images:,} 张测试图片上的"
              "准确率是 {recomputed:.4f}"},
    "ablation.accuracy.hint": {
        "en": "report history.last.test_acc of this model's own run, not a number typed in",
        "zh": "填这个模型自己那次训练的 history.last.test_acc，而不是手敲一个数"},
    "ablation.ok": {
        "en": "without reductions: {params_ratio:.1f}x the parameters, {macs_ratio:.1f}x the multiply-adds; in the "
              "same time budget {naive_seen:,.0f} training images and {naive_accuracy:.1%} test accuracy, against "
              "{seen:,.0f} and {accuracy:.1%} with reductions",
        "zh": "不做降维：参数量是 {params_ratio:.1f} 倍，乘加运算量是 {macs_ratio:.1f} 倍；在同样的时间预算内训练了 "
              "{naive_seen:,.0f} 张图片，测试准确率 {naive_accuracy:.1%}；做降维的则是 "
              "{seen:,.0f} 张和 {accuracy:.1%}"},
}
